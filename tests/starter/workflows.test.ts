import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../scripts/template/spec.ts';
import { validateTemplate } from '../../scripts/template/validate.ts';

// @action-validator/core checks a workflow against GitHub's published workflow schema (SchemaStore).
const { validateWorkflow } = createRequire(import.meta.url)('@action-validator/core') as {
  validateWorkflow: (source: string) => { errors: unknown[] };
};

const dir = resolve(import.meta.dirname, '../../.github/workflows');
const workflows = readdirSync(dir).filter((file) => file.endsWith('.yml'));
const read = (file: string): string => readFileSync(join(dir, file), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string>;
}

interface Job {
  uses?: string;
  needs?: string | string[];
  if?: string;
  environment?: string;
  permissions?: Record<string, string>;
  steps?: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

interface RoleTemplate {
  Parameters: Record<string, { AllowedValues?: string[] }>;
  Resources: {
    DeployRole: {
      Properties: {
        RoleName: unknown;
        AssumeRolePolicyDocument: { Statement: { Action: string; Condition: { StringEquals?: Record<string, unknown> } }[] };
      };
    };
  };
}

const deployWorkflow = (): Workflow => parse(read('deploy.yml')) as Workflow;

describe('Starter: GitHub Actions workflows', () => {
  it('ships a CI and a deploy workflow', () => {
    expect(workflows).toEqual(expect.arrayContaining(['ci.yml', 'deploy.yml']));
  });

  it.each(workflows)('%s is a valid workflow', (file) => {
    expect(validateWorkflow(read(file)).errors).toEqual([]);
  });

  it('the validator does reject a broken workflow', () => {
    expect(validateWorkflow('on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n').errors).not.toEqual([]);
  });

  it('CI runs lint and tests on pull requests', () => {
    const ci = parse(read('ci.yml')) as { on: Record<string, unknown>; jobs: Record<string, { steps: Step[] }> };
    const runs = Object.values(ci.jobs).flatMap((job) => job.steps.map((step) => step.run ?? ''));
    expect(Object.keys(ci.on)).toContain('pull_request');
    expect(runs).toEqual(expect.arrayContaining(['npm ci', 'npm run lint', 'npm test']));
  });

  it('deploy uses OIDC role credentials, never long-lived keys', () => {
    // Assess
    const source = read('deploy.yml');
    const steps = Object.values(deployWorkflow().jobs).flatMap((job) => job.steps ?? []);
    const credentials = steps.find((step) => step.uses?.startsWith('aws-actions/configure-aws-credentials'));
    expect(credentials?.with?.['role-to-assume']).toBe('${{ vars.AWS_DEPLOY_ROLE_ARN }}');
    expect(source).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    expect(steps.some((step) => step.run?.includes('npm run deploy'))).toBe(true);
  });

  // GitHub docs, "Security hardening for GitHub Actions": grant GITHUB_TOKEN the least permissions; id-token: write
  // lets a job mint a cloud credential, so no other job (and no dependency install outside it) gets it.
  it('deploy: the workflow grants no permission by default; id-token: write is in the deploy job only', () => {
    const deploy = deployWorkflow();
    expect(deploy.permissions).toEqual({});
    const withToken = Object.entries(deploy.jobs).filter(([, job]) => job.permissions?.['id-token'] === 'write').map(([name]) => name);
    expect(withToken).toEqual(['deploy']);
    for (const file of workflows.filter((name) => name !== 'deploy.yml')) expect(read(file), file).not.toMatch(/id-token:\s*write/);
  });

  it('deploy: runs only after CI passed on the same commit (needs the ci job, which calls ci.yml), and only from main', () => {
    const { jobs } = deployWorkflow();
    expect(jobs.ci?.uses).toBe('./.github/workflows/ci.yml');
    expect(jobs.deploy?.needs).toBe('ci');
    expect(jobs.deploy?.if).toBe("github.ref == 'refs/heads/main'");
    const ci = parse(read('ci.yml')) as { on: Record<string, unknown> };
    expect(Object.keys(ci.on)).toContain('workflow_call');
  });

  it("deploy: the job runs in the stage's GitHub environment (whose deployment branches and role are the stage's own)", () => {
    const { jobs, on } = deployWorkflow();
    expect(jobs.deploy?.environment).toBe("${{ inputs.stage || 'dev' }}");
    expect((on.workflow_dispatch as { inputs: { stage: { options: string[] } } }).inputs.stage.options).toEqual(['dev', 'prod']);
  });

  it('deploy: installs without lifecycle scripts where the OIDC token can be minted', () => {
    const runs = (deployWorkflow().jobs.deploy?.steps ?? []).map((step) => step.run ?? '');
    const installs = runs.filter((run) => /\bnpm (ci|install|i)\b/.test(run));
    expect(installs).toEqual(['npm ci --ignore-scripts']);
  });

  // GitHub docs, "Security hardening for GitHub Actions": "Pinning an action to a full length commit SHA is currently
  // the only way to use an action as an immutable release."
  it.each(workflows)('%s: every action is pinned to a full commit SHA, with its release in a comment', (file) => {
    const uses = read(file)
      .split('\n')
      .filter((line) => /^\s*(-\s+)?uses:/.test(line))
      .map((line) => line.replace(/^\s*(-\s+)?uses:\s*/, ''));
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      if (use.startsWith('./')) continue; // a workflow of this repository, at the same commit
      expect(use, file).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$/);
    }
  });

  describe('the deploy role (resources/github-deploy-role.yml)', () => {
    const roleTemplate = parse(readFileSync(resolve(import.meta.dirname, '../../resources/github-deploy-role.yml'), 'utf8')) as RoleTemplate;
    const trust = roleTemplate.Resources.DeployRole.Properties.AssumeRolePolicyDocument.Statement;

    it('admits exactly one OIDC subject: this repository, the stage environment, deploy.yml on one branch (no StringLike, no wildcard)', () => {
      expect(trust).toHaveLength(1);
      const [statement] = trust;
      expect(statement?.Action).toBe('sts:AssumeRoleWithWebIdentity');
      expect(Object.keys(statement?.Condition ?? {})).toEqual(['StringEquals']);
      const equals = statement?.Condition.StringEquals ?? {};
      expect(equals['token.actions.githubusercontent.com:aud']).toBe('sts.amazonaws.com');
      expect(equals['token.actions.githubusercontent.com:sub']).toEqual({
        'Fn::Sub': 'repo:${Repository}:environment:${Stage}:job_workflow_ref:${Repository}/.github/workflows/deploy.yml@refs/heads/${Branch}',
      });
      expect(JSON.stringify(trust)).not.toContain('*');
    });

    it('is one role per stage: the stage is a parameter limited to the workflow\'s stages, and names the role', () => {
      const { Stage } = roleTemplate.Parameters;
      expect(Stage?.AllowedValues).toEqual((deployWorkflow().on.workflow_dispatch as { inputs: { stage: { options: string[] } } }).inputs.stage.options);
      expect(roleTemplate.Resources.DeployRole.Properties.RoleName).toEqual({ 'Fn::Sub': '${Service}-${Stage}-github-deploy' });
    });

    it('is valid CloudFormation (the resource specification, offline)', async () => {
      const report = validateTemplate(roleTemplate, await loadSpec());
      expect(report.errors).toEqual([]);
    });
  });
});
