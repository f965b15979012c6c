import { describe, expect, it } from 'vitest';
import { summarizeProfile, type CpuProfile } from '../../scripts/load/profile.ts';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });

describe('Load profile summary: CPU charged to the nearest package on the stack', () => {
  it('charges Node internals to their caller and groups packages into components', () => {
    // Prepare: root → fauxqs handler → node:http write; root → @smithy sign; idle; an esbuild bundle.
    const profile: CpuProfile = {
      startTime: 0,
      endTime: 2_000_000,
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5, 6] },
        { id: 2, callFrame: frame('handle', 'file:///work/main/node_modules/fauxqs/dist/sqs/sqsRouter.js'), children: [3] },
        { id: 3, callFrame: frame('writev', 'node:_http_outgoing') },
        { id: 4, callFrame: frame('sign', 'file:///work/main/node_modules/@smithy/signature-v4/dist-cjs/index.js') },
        { id: 5, callFrame: frame('(idle)', '') },
        { id: 6, callFrame: frame('handler', 'file:///work/main/.esbuild/.build/functions/chargeOrder.mjs?fn=x') },
      ],
      samples: [3, 3, 2, 4, 5, 5, 5, 6],
    };

    // Act
    const summary = summarizeProfile(profile);

    // Assess
    expect(summary.seconds).toBe(2);
    expect(Object.fromEntries(summary.owners)).toEqual({ fauxqs: 3 / 8, '@smithy/signature-v4': 1 / 8, '(idle)': 3 / 8, 'function bundles': 1 / 8 });
    expect(Object.fromEntries(summary.components)).toEqual({
      'SQS/SNS/S3 emulator (fauxqs, fastify)': 3 / 8,
      'AWS SDK v3 clients (@aws-sdk, @smithy)': 1 / 8,
      '(idle)': 3 / 8,
      'function code (bundles)': 1 / 8,
    });
  });
});
