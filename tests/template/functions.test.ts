import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, STAGES, lambdaFunctions, loadTemplate, refId, resolveValue, resourcesOfType, type Cfn, type Template } from './helpers.ts';

/** Every variable name the code reads with `requireEnv('NAME')`, found in the sources. */
const requiredEnvNames = (): string[] => {
  const walk = (dir: string): string[] =>
    readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    );
  const names = new Set<string>();
  for (const file of [...walk('functions'), ...walk('lib')]) {
    for (const match of readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/requireEnv\(\s*['"]([A-Z0-9_]+)['"]\s*\)/g)) names.add(match[1] as string);
  }
  return [...names];
};

describe.each(STAGES)('Functions and the HTTP API (%s stage)', (stage) => {
  let t: Template;
  beforeAll(async () => {
    t = await loadTemplate(stage);
  });

  // https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
  it('every function runs on nodejs24.x', () => {
    const functions = lambdaFunctions(t);
    expect(functions.length).toBeGreaterThan(0);
    expect(functions.filter((fn) => fn.props.Runtime !== 'nodejs24.x').map((fn) => `${fn.name}: ${fn.props.Runtime}`)).toEqual([]);
  });

  // Handler format <file>.<export>: https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html
  it("every function's Handler is functions/<name>.handler, and functions/<name>.ts exists and exports handler", () => {
    const violations: string[] = [];
    for (const fn of lambdaFunctions(t)) {
      if (fn.props.Handler !== `functions/${fn.name}.handler`) violations.push(`${fn.name}: Handler ${fn.props.Handler}`);
      const file = join(REPO_ROOT, 'functions', `${fn.name}.ts`);
      if (!existsSync(file)) violations.push(`${fn.name}: functions/${fn.name}.ts does not exist`);
      else if (!/export\s*\{[^}]*\bhandler\b[^}]*\}|export\s+(const|function|async function)\s+handler\b/.test(readFileSync(file, 'utf8'))) {
        violations.push(`${fn.name}: functions/${fn.name}.ts does not export handler`);
      }
    }
    expect(violations).toEqual([]);
  });

  // The contract in docs/architecture.md; routes: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
  it('the HTTP API has the routes POST /orders (placeOrder) and GET /orders/{id} (getOrder)', () => {
    const routes = Object.fromEntries(
      resourcesOfType(t, 'AWS::ApiGatewayV2::Route').map(([, route]) => {
        const integrationId = resolveValue(t, route.Properties.Target).replace('integrations/', '').replace(/^<|>$/g, '');
        const integration = t.resources[integrationId]?.Properties as Cfn;
        const functionId = refId(integration?.IntegrationUri);
        const name = lambdaFunctions(t).find((fn) => fn.id === functionId)?.name;
        return [route.Properties.RouteKey, name];
      }),
    );
    expect(routes).toMatchObject({ 'POST /orders': 'placeOrder', 'GET /orders/{id}': 'getOrder' });
  });

  // A handler that reads a variable its function does not set fails every invocation (MissingEnvError):
  // configure variables per function, https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
  it("every environment variable a function's bundle requires (requireEnv) is set on that function", () => {
    const names = requiredEnvNames();
    expect(names.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const fn of lambdaFunctions(t)) {
      const bundle = readFileSync(join(t.bundleDir, `${fn.name}.mjs`), 'utf8');
      const variables = fn.props.Environment?.Variables ?? {};
      for (const name of names) {
        if (new RegExp(`["'\`]${name}["'\`]`).test(bundle) && variables[name] === undefined) violations.push(`${fn.name}: reads ${name}, which is not in its environment`);
      }
    }
    expect(violations).toEqual([]);
  });
});
