// The admission framework's public face for webhook files and the admission function.
export { celString, defineWebhook, NAMESPACE_NAME_LABEL, WEBHOOK_DOMAIN, type Webhook, WebhookDefinitionError, type WebhookEntry } from './define.ts';
export { type Decision, Dispatcher, type HttpRequestLike, type HttpResponseLike, type Outcome } from './dispatcher.ts';
export { loadRegistry, Registry, webhookFiles } from './registry.ts';
export type * from './types.ts';
export { Allowed, Annotated, Denied, Undecided, Warned } from './verdict.ts';
