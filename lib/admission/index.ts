// The admission framework's public face for webhook files and the admission function.
export { defineWebhook, WebhookDefinitionError, WEBHOOK_DOMAIN, NAMESPACE_NAME_LABEL, celString, type Webhook, type WebhookEntry } from './define.ts';
export { Allowed, Annotated, Denied, Undecided, Warned } from './verdict.ts';
export { Dispatcher, type Decision, type HttpRequestLike, type HttpResponseLike, type Outcome } from './dispatcher.ts';
export { loadRegistry, Registry, webhookFiles } from './registry.ts';
export type * from './types.ts';
