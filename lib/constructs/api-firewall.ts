import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { DEFAULT_RATE_LIMIT_PER_IP } from '../defaults.ts';

/** Props of {@link ApiFirewall}. */
export interface ApiFirewallProps {
  /** The API Gateway stage the web ACL protects. */
  readonly stage: Stage;
  /**
   * Requests one client IP may send in any 5-minute window; past it the IP is answered 429 until
   * its rate falls. WAF accepts 10 to 2,000,000,000. @default DEFAULT_RATE_LIMIT_PER_IP (3,000)
   */
  readonly rateLimitPerIp?: number;
}

/** WAF's bounds for a rate-based rule's limit. */
const RATE_LIMIT_BOUNDS = { min: 10, max: 2_000_000_000 } as const;

/**
 * A regional WAFv2 web ACL on the API stage. The public API key ships inside client apps, so
 * anyone can hold it: the usage plan bounds the key as a whole, and this ACL bounds each client
 * IP (rate rule), then drops common exploit patterns (AWS Common Rule Set) and known bad inputs
 * (AWS Known Bad Inputs). Everything else is allowed.
 */
export class ApiFirewall extends Construct {
  public readonly webAcl: CfnWebACL;
  public readonly rateLimitPerIp: number;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const limit = props.rateLimitPerIp ?? DEFAULT_RATE_LIMIT_PER_IP;
    if (!Number.isInteger(limit) || limit < RATE_LIMIT_BOUNDS.min || limit > RATE_LIMIT_BOUNDS.max) {
      throw new Error(
        `ApiFirewall: rateLimitPerIp must be an integer from ${RATE_LIMIT_BOUNDS.min} to ${RATE_LIMIT_BOUNDS.max} (requests per IP per 5 minutes), got ${limit}`,
      );
    }
    this.rateLimitPerIp = limit;
    const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
      metricName,
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
    });
    const managed = (name: string, priority: number, ruleActionOverrides?: CfnWebACL.RuleActionOverrideProperty[]): CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
      visibilityConfig: visibility(name),
    });
    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      description: 'abrec API: per-IP rate limit, AWS common rule set, known bad inputs',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('abrec-api'),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          // 429, not WAF's default 403: clients should back off, not conclude their key is wrong.
          action: { block: { customResponse: { responseCode: 429 } } },
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        // SizeRestrictions_BODY blocks bodies over 8 KB; POST /events/batch takes up to 1,000
        // events (the function validates the size), so that rule only counts.
        managed('AWSManagedRulesCommonRuleSet', 1, [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }]),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });
    new CfnWebACLAssociation(this, 'StageAssociation', { resourceArn: props.stage.stageArn, webAclArn: this.webAcl.attrArn });
  }
}
