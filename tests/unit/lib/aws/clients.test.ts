import '../../helpers/env.ts';
import { NodeHttpHandler } from '@smithy/node-http-handler'; // slice-line:analytics
import { describe, expect, it } from 'vitest';
import { documents } from '#lib/aws/clients/dynamodb.ts';
import { kinesis } from '#lib/aws/clients/kinesis.ts'; // slice-line:analytics

describe('Lib: aws/clients', () => {
  // slice-begin:analytics
  it('talks HTTP/1.1 to Kinesis (the client defaults to HTTP/2, which the local emulators fail on for 100+ records)', () => {
    expect(kinesis.config.requestHandler).toBeInstanceOf(NodeHttpHandler);
  });
  // slice-end:analytics

  it('drops undefined attributes when marshalling Orders items rather than rejecting them', () => {
    expect(documents.config.translateConfig?.marshallOptions?.removeUndefinedValues).toBe(true);
  });
});
