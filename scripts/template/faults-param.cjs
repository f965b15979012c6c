// The `faults` stage param, as serverless.yml resolves it for FAULTS: refused on prod, where injected failures,
// latency and the poison trigger (any order whose customerId starts with `poison-`, which a customer chooses) would
// reach customers. Resolving it fails `osls package` / `osls deploy` / `osls print` for stage prod with a non-empty
// value, naming the param; every other stage gets the value unchanged. A CommonJS file because osls's ${file(...)}
// variable source loads JS with require().
'use strict';

/** Stages on which fault injection is refused. */
const NO_FAULTS_STAGES = ['prod'];

/**
 * @param {{ resolveVariable: (variable: string) => Promise<unknown> }} context what osls passes a JS file variable
 * @returns {Promise<string>} the faults param ('' = none)
 */
module.exports = async ({ resolveVariable }) => {
  const stage = String(await resolveVariable('sls:stage'));
  const faults = await resolveVariable('param:faults');
  const value = faults === null || faults === undefined ? '' : String(faults);
  if (NO_FAULTS_STAGES.includes(stage) && value.trim() !== '') {
    throw new Error(`params.faults must be '' on stage ${stage}: fault injection (lib/faults.ts) is refused where customers are served; got ${JSON.stringify(value.slice(0, 80))}`);
  }
  return value;
};
