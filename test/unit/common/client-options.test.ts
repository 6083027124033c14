/** The one place SDK client options are built: from the environment, or for the local servers. */
import { describe, expect, it } from 'vitest';
import { environmentClientOptions, LOCAL_CREDENTIALS, localClientOptions } from '../../../lambdas/common/client-options.ts';

describe('environmentClientOptions', () => {
  it('leaves endpoint, region and credentials to the SDK and takes 3 attempts in a bare environment', () => {
    // Act / Assess
    expect(environmentClientOptions('dynamodb', {})).toEqual({ maxAttempts: 3 });
  });

  it("takes the service's own endpoint before the global one, and AWS_REGION before AWS_DEFAULT_REGION", () => {
    // Arrange
    const env = {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:2',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'us-west-2',
    };

    // Act / Assess
    expect(environmentClientOptions('dynamodb', env)).toEqual({ endpoint: 'http://127.0.0.1:2', region: 'eu-west-1', maxAttempts: 3 });
    expect(environmentClientOptions('sns', env)).toEqual({ endpoint: 'http://127.0.0.1:1', region: 'eu-west-1', maxAttempts: 3 });
    expect(environmentClientOptions('s3', { AWS_DEFAULT_REGION: 'us-west-2' })).toMatchObject({ region: 'us-west-2' });
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    [undefined, false],
  ])('addresses S3 by path when S3_FORCE_PATH_STYLE is %s: %s', (flag, pathStyle) => {
    // Arrange
    const env = flag === undefined ? {} : { S3_FORCE_PATH_STYLE: flag };

    // Act / Assess
    expect(environmentClientOptions('s3', env).forcePathStyle).toBe(pathStyle);
    expect(environmentClientOptions('dynamodb', env)).not.toHaveProperty('forcePathStyle');
  });

  it.each([
    ['1', 1],
    ['5', 5],
    ['', 3],
    ['many', 3],
  ])('takes AWS_MAX_ATTEMPTS=%j as %i attempts', (value, attempts) => {
    // Act / Assess
    expect(environmentClientOptions('s3', { AWS_MAX_ATTEMPTS: value }).maxAttempts).toBe(attempts);
  });
});

describe('localClientOptions', () => {
  it("points a DynamoDB client at dynalite with the local runtime's region and credentials", () => {
    // Act / Assess
    expect(localClientOptions('dynamodb', 'http://127.0.0.1:4567')).toEqual({
      endpoint: 'http://127.0.0.1:4567',
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
  });

  it('addresses s3rver by path, in the region and with the attempts given', () => {
    // Act / Assess
    expect(localClientOptions('s3', 'http://127.0.0.1:4569', { region: 'eu-west-1', maxAttempts: 1 })).toEqual({
      endpoint: 'http://127.0.0.1:4569',
      region: 'eu-west-1',
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      maxAttempts: 1,
    });
  });
});
