// Scorecard policies: what "good" means for a repository (see docs/use/policy.md).
export type { Risk } from './checks.ts';
export { CHECK_NAMES, CHECK_RISK, defaultWeight, RISK_WEIGHT, roundLikeScorecard } from './checks.ts';
export type { Evaluation, PolicyInput, Reason, RuleId, Verdict } from './evaluate.ts';
export { aggregate, evaluate, failingRules, policyFor, policyMatches, reasonsLine, VERDICTS } from './evaluate.ts';
export type { PolicyFileOptions, PolicySource, PolicyStatus } from './file.ts';
export { PolicyFile, staticPolicies } from './file.ts';
export type { ParsedPolicies, PolicySet } from './parse.ts';
export { EMPTY_POLICY_SET, MAX_POLICIES, MAX_POLICY_FILE_BYTES, parsePolicies } from './parse.ts';
export type { Policy } from './schema.ts';
export { POLICY_API_VERSION, POLICY_KIND, POLICY_NAME_PATTERN, policySchema } from './schema.ts';
