import type { Schemas } from '@/api/client'

export type Webhook = Schemas['WebhookRead'] & { updatable?: boolean; destroyable?: boolean }
export type WebhookHeader = Schemas['WebhookHeaderRead']
export type Delivery = Schemas['DeliveryRead']
export type DeliveryDetail = Schemas['DeliveryDetail']
export type Attempt = Schemas['AttemptRead']

export interface WebhookForm {
  name: string
  url: string
  method: 'GET' | 'POST'
  contentType: 'application/json' | 'application/x-www-form-urlencoded'
  username: string
  password: string
  enabled: boolean
}

/** A new webhook's form, as Portus's defaults have it (POST, JSON, enabled). */
export function emptyWebhookForm(): WebhookForm {
  return {
    name: '',
    url: '',
    method: 'POST',
    contentType: 'application/json',
    username: '',
    password: '',
    enabled: true,
  }
}
