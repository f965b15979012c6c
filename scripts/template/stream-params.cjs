// The order stream's capacity and retention stage params, as serverless.yml resolves them for OrderStream
// (resources/streaming.yml): each one is checked here, so `osls package` / `osls deploy` / `osls print` fails naming
// the param and its allowed values instead of CloudFormation failing mid-deploy. A CommonJS file because osls's
// ${file(...)} variable source loads JS with require(); `${file(./scripts/template/stream-params.cjs):mode}` calls
// the export of that name.
'use strict';

/** Kinesis capacity modes (Kinesis API reference, StreamModeDetails). */
const MODES = ['PROVISIONED', 'ON_DEMAND'];

/**
 * Retention bounds in hours: 24 h by default, up to 8,760 h (365 days): Kinesis developer guide, "Change the data
 * retention period".
 */
const MIN_RETENTION_HOURS = 24;
const MAX_RETENTION_HOURS = 8760;

/** A param as a string ('' when unset). */
const read = async (resolveVariable, name) => {
  const value = await resolveVariable(`param:${name}`);
  return value === null || value === undefined ? '' : String(value).trim();
};

/** A whole number from a param, or an error naming the param, the bounds and what it got. */
const wholeNumber = (name, text, min, max, why) => {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new Error(`params.${name} must be a whole number from ${min} to ${max} (${why}); got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return value;
};

/**
 * @param {{ resolveVariable: (variable: string) => Promise<unknown> }} context what osls passes a JS file variable
 * @returns {Promise<string>} PROVISIONED or ON_DEMAND (params.streamMode)
 */
const mode = async ({ resolveVariable }) => {
  const text = await read(resolveVariable, 'streamMode');
  const value = text.toUpperCase();
  if (!MODES.includes(value)) {
    throw new Error(`params.streamMode must be ${MODES.join(' or ')} (Kinesis capacity modes); got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return value;
};

/**
 * @param {{ resolveVariable: (variable: string) => Promise<unknown> }} context what osls passes a JS file variable
 * @returns {Promise<number>} the provisioned shard count (params.streamShards); an ON_DEMAND stream leaves it out
 */
const shards = async ({ resolveVariable }) =>
  // 20,000 shards is the default per-account shard quota in us-east-1, us-west-2 and eu-west-1 (1,000 or 6,000
  // elsewhere: Kinesis developer guide, "Quotas and limits"); more needs a quota increase first.
  wholeNumber('streamShards', await read(resolveVariable, 'streamShards'), 1, 20000, 'shards of a PROVISIONED stream; the default account quota is at most 20,000');

/**
 * @param {{ resolveVariable: (variable: string) => Promise<unknown> }} context what osls passes a JS file variable
 * @returns {Promise<number>} the stream's retention in hours (params.streamRetentionHours)
 */
const retentionHours = async ({ resolveVariable }) =>
  wholeNumber('streamRetentionHours', await read(resolveVariable, 'streamRetentionHours'), MIN_RETENTION_HOURS, MAX_RETENTION_HOURS, 'hours, Kinesis keeps records 24 h to 365 days');

module.exports = { mode, shards, retentionHours };
