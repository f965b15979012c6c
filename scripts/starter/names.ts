// Rules a service name and a region must follow, each with the AWS rule it comes from, so `npm run init` can
// refuse a name AWS would reject later, in the middle of a deploy.

/** A name (or region) that AWS would reject, with the rule it breaks. */
class InvalidNameError extends Error {
  readonly rule: string;
  constructor(value: string, rule: string) {
    super(`"${value}" cannot be used: ${rule}`);
    this.name = 'InvalidNameError';
    this.rule = rule;
  }
}

/**
 * The longest service name that still fits every generated name for stages of up to 8 characters:
 * bucket `<service>-<stage>-documents-<12-digit account>` must fit S3's 63 (S3 user guide, "Bucket naming rules"),
 * 63 - 1 - 8 - 11 - 12 = 31, and function `<service>-<stage>-streamOrderEvents` Lambda's 64 (Lambda quotas).
 */
const MAX_SERVICE_LENGTH = 30;

const SERVICE_RULES: { test: (name: string) => boolean; rule: string }[] = [
  { test: (n) => n.length >= 3, rule: 'a service name needs at least 3 characters (S3 bucket names are built from it and need 3 to 63)' },
  {
    test: (n) => n.length <= MAX_SERVICE_LENGTH,
    rule: `a service name may have at most ${MAX_SERVICE_LENGTH} characters (bucket names, at most 63, are <service>-<stage>-documents-<account id>)`,
  },
  { test: (n) => /^[a-z]/.test(n), rule: 'a service name must start with a lowercase letter (CloudFormation stack names start with a letter)' },
  {
    test: (n) => /^[a-z0-9-]+$/.test(n),
    rule: 'a service name may hold only lowercase letters, digits and hyphens (S3 bucket names allow no upper case, "_" or ".")',
  },
  { test: (n) => !n.endsWith('-'), rule: 'a service name must not end with a hyphen (S3 bucket names end with a letter or digit)' },
  { test: (n) => !n.includes('--'), rule: 'a service name must not hold "--" (S3 reserves "xn--" names; the stack name separates parts with single hyphens)' },
  { test: (n) => !/^(xn-|sthree-|amzn-s3-demo-)/.test(n), rule: 'a service name must not start with "xn-", "sthree-" or "amzn-s3-demo-" (reserved S3 bucket prefixes)' },
];

/**
 * Throws InvalidNameError naming the first rule the service name breaks.
 *
 * @example
 * assertServiceName('acme-orders'); // ok
 * assertServiceName('Acme_Orders'); // throws: only lowercase letters, digits and hyphens
 */
const assertServiceName = (name: string): void => {
  for (const { test, rule } of SERVICE_RULES) if (!test(name)) throw new InvalidNameError(name, rule);
};

/**
 * Throws InvalidNameError unless the value looks like an AWS region code (e.g. eu-west-1, us-gov-west-1).
 *
 * @example
 * assertRegion('eu-west-1');
 */
const assertRegion = (region: string): void => {
  if (!/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/.test(region)) {
    throw new InvalidNameError(region, 'a region is a code such as us-east-1 or eu-west-1 (AWS General Reference, "AWS service endpoints")');
  }
};

export { InvalidNameError, MAX_SERVICE_LENGTH, assertServiceName, assertRegion };
