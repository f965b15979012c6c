import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Created once per execution environment and reused. The SDK reads AWS_ENDPOINT_URL (how the local cloud works). */
const secretsManager = new SecretsManagerClient({});

export { secretsManager };
