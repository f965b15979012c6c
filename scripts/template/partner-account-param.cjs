// The `partnerAccountId` stage param, as resources/partner-access.yml resolves it: '' (no partner, the default) or
// an AWS account id, which is 12 digits (AWS Account Management reference guide, "View AWS account identifiers").
// Anything else fails `osls package` / `osls deploy` / `osls print`, naming the param, before CloudFormation would
// refuse the queue policy's principal at deploy time. A CommonJS file because osls's ${file(...)} variable source
// loads JS with require().
'use strict';

const ACCOUNT_ID = /^\d{12}$/;

/**
 * @param {{ resolveVariable: (variable: string) => Promise<unknown> }} context what osls passes a JS file variable
 * @returns {Promise<string>} the partner's account id ('' = none)
 */
module.exports = async ({ resolveVariable }) => {
  const raw = await resolveVariable('param:partnerAccountId');
  const value = raw === null || raw === undefined ? '' : String(raw).trim();
  if (value !== '' && !ACCOUNT_ID.test(value)) {
    throw new Error(`params.partnerAccountId must be '' or a 12-digit AWS account id; got ${JSON.stringify(value.slice(0, 40))}`);
  }
  return value;
};
