export {
  type QueueAuthCheck,
  type QueueAuthOptions,
  queueAuth,
  TokenCheckUnavailableError,
} from "./auth.ts";
export { type QueueTransportOptions, queueTransport, type ReplyDelivery } from "./client.ts";
export {
  AUTHORIZATION,
  type DeadLetter,
  type QueueDelivery,
  type QueueMessage,
  type QueueReceive,
  type QueueSend,
  QueueUnavailableError,
  REPLY_TO,
} from "./envelope.ts";
export { type WebhookInbox, type WebhookInboxOptions, webhookInbox } from "./inbox.ts";
export { type QueueServer, type ServeQueueOptions, serveQueue } from "./server.ts";
export {
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookErrorCode,
  type WebhookMessage,
  WebhookVerificationError,
  webhookReceiver,
  webhookRefusal,
} from "./webhook.ts";
