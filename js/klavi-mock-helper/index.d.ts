// Types of klavi-mock-helper (hand-written; the shapes follow openapi/mock-admin.yaml).

export type Decision = 'approve' | 'deny';
export type Lgpd = 'accept' | 'decline';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'undeliverable';
export type ReportDelivery = 'on-request' | 'automatic' | 'manual';

export interface Options {
  /** The mock's base URL (default process.env.KLAVI_MOCK_URL, else http://127.0.0.1:8000). */
  url?: string;
  /** Sent as X-Mock-Admin-Token (default process.env.KLAVI_MOCK_ADMIN_TOKEN). */
  adminToken?: string;
  /** The tenant the helpers act for (default sandbox-app). */
  appId?: string;
}

export interface Clock {
  now: string;
  offsetSeconds: number;
}

export interface ClockAdvanced extends Clock {
  fellDue: Array<{
    kind: 'authorisation_window' | 'expire' | 'revoke' | 'delete' | 'webhook';
    dueAt: string;
    consentId: string | null;
    deliveryId: string | null;
    what: string;
  }>;
}

export interface Persona {
  id: string;
  title: string;
  description: string;
  default: boolean;
  personalTaxId?: string;
  businessTaxId?: string;
  [field: string]: unknown;
}

export interface ConsentState {
  consentId: string;
  status: string;
  statusReason?: { code: string; [field: string]: unknown } | null;
  [field: string]: unknown;
}

export interface BankAnswer {
  consent: ConsentState;
  returnURL: string | null;
  waiting: boolean;
}

export interface KlaviEvent {
  eventName: string;
  eventId?: string;
  payload: any;
  [field: string]: unknown;
}

export interface Delivery {
  deliveryId: string;
  appId: string;
  kind: 'event' | 'report';
  name: string;
  status: DeliveryStatus;
  destination: string | null;
  createdAt: string;
  nextAttemptAt: string;
  retriesLeft: number;
  requestId: string | null;
  orderingKey: string | null;
  chaos: Record<string, unknown>;
  body: any;
  attempts: Array<Record<string, unknown>>;
}

export interface DeliveryFilters {
  appId?: string;
  kind?: 'event' | 'report';
  name?: string;
  status?: DeliveryStatus;
  requestId?: string;
  orderingKey?: string;
  /** Shorthand for orderingKey consent:<consentId>. */
  consentId?: string;
  /** Shorthand for orderingKey link:<linkId>. */
  linkId?: string;
}

export interface FaultRule {
  operationId?: string;
  status?: number;
  retryAfterSeconds?: number;
  times?: number;
  fault?: string;
  [field: string]: unknown;
}

export interface Fault extends FaultRule {
  faultId: string;
}

export interface Chaos {
  duplicate?: number;
  reportTwice?: number;
  outOfOrder?: number;
  delay?: number;
  batch?: number;
  badSignature?: number;
  missingSignature?: number;
  staleTimestamp?: number;
  seed?: number;
  outOfOrderSeconds?: number;
  delaySeconds?: number;
  batchSeconds?: number;
  batchSize?: number;
  staleSeconds?: number;
}

export interface ReportSettings {
  reportDelivery?: ReportDelivery;
  /** null: every product. */
  activatedProducts?: string[] | null;
  encryptSensitiveFields?: boolean;
}

export interface Tenant {
  appId: string;
  accessKey: string;
  secretKey: string;
  eventsUrl?: string | null;
  productsCallbackURL?: string | Record<string, string> | null;
  forFi: boolean;
  reportDelivery: ReportDelivery;
  activatedProducts: string[] | null;
  encryptSensitiveFields: boolean;
  /** The hosted pages' tracking events go to eventsUrl too (eventType "web"). */
  trackingEvents: boolean;
  /** The partner this application belongs to (its appId when none). */
  partner: string;
}

export interface DeviationItem {
  problem: string;
  tolerated: boolean;
  /** A runtime condition a correct client recovers from (an expired token's 401). */
  recoverable?: boolean;
  count: number;
}

export interface TenantConformance {
  appId: string;
  requests: number;
  operations: Record<string, { calls: number; statuses: Record<string, number> }>;
  notExercised: string[];
  /** Coverage per contract: data (openapi/klavi.yaml) and payments (openapi/klavi-payments.yaml). */
  contracts?: Record<string, { called: boolean; operations: number; exercised: number; notExercised: string[] }>;
  violationCount: number;
  recoverableCount?: number;
  violations: Record<string, Record<string, DeviationItem[]>>;
  webhooks: Record<string, Record<string, number>>;
  [field: string]: unknown;
}

export interface ConformanceReport {
  tenants: TenantConformance[];
}

export class KlaviMockError extends Error {
  status: number;
  body: string;
}

export class KlaviContractViolation extends Error {
  report: ConformanceReport;
}

export function waitFor<T>(
  condition: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  options?: { timeout?: number; interval?: number; what?: string },
): Promise<T>;

export function violationsOf(report: ConformanceReport, appId?: string): string[];
export function renderReport(report: ConformanceReport): string;
export function klaviMock(options?: Options): KlaviMock;

export class KlaviMock {
  constructor(options?: Options);
  readonly baseUrl: string;
  /** The Klavi API's base URL: `${baseUrl}/data/v1`. */
  readonly apiUrl: string;
  appId: string;
  adminToken: string | undefined;

  admin<T = any>(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<T>;

  reset(options?: { rewindClock?: boolean }): Promise<{ ok: boolean }>;
  now(): Promise<string>;
  advance(seconds: number): Promise<ClockAdvanced>;
  settle(seconds?: number, options?: { timeout?: number; maxSteps?: number }): Promise<string>;
  tenants(): Promise<Tenant[]>;
  setWebhooks(
    settings: {
      eventsUrl?: string | null;
      productsCallbackURL?: string | Record<string, string> | null;
      trackingEvents?: boolean;
      /** Where payment events go (else eventsUrl). */
      paymentsUrl?: string | null;
    },
    appId?: string,
  ): Promise<Tenant>;

  personas(): Promise<Persona[]>;
  taxId(persona: string, options?: { business?: boolean }): Promise<string>;
  consent(consentId: string): Promise<ConsentState>;
  consents(query?: Record<string, string>): Promise<any>;
  force(consentId: string, status: string): Promise<ConsentState>;
  usePersona(consentId: string, persona: string): Promise<ConsentState>;
  answerAtBank(consentId: string, options?: { decision?: Decision; lgpd?: Lgpd; permissions?: string[] }): Promise<BankAnswer>;
  approve(consentId: string, options?: { lgpd?: Lgpd; permissions?: string[] }): Promise<BankAnswer>;
  declineLgpd(consentId: string): Promise<BankAnswer>;
  deny(consentId: string): Promise<BankAnswer>;

  deliveries(filters?: DeliveryFilters): Promise<Delivery[]>;
  waitForDelivery(options?: { name?: string; consentId?: string; linkId?: string; status?: DeliveryStatus; timeout?: number }): Promise<Delivery>;
  waitForEvent(name: string, options?: { consentId?: string; linkId?: string; timeout?: number }): Promise<KlaviEvent>;
  redeliver(options?: { deliveryId?: string; status?: 'delivered' | 'failed' | 'undeliverable'; appId?: string; kind?: 'event' | 'report'; name?: string; requestId?: string }): Promise<any>;
  setChaos(modes: Chaos, appId?: string): Promise<Chaos>;
  clearChaos(appId?: string): Promise<Chaos>;
  setReportDelivery(settings: ReportSettings, appId?: string): Promise<Tenant>;

  addFault(rule: FaultRule): Promise<Fault>;
  faults(): Promise<Fault[]>;
  removeFault(faultId: string): Promise<unknown>;
  clearFaults(): Promise<unknown>;
  withFault<T>(rule: FaultRule, fn: (fault: Fault) => T | Promise<T>): Promise<T>;

  conformance(appId?: string): Promise<ConformanceReport>;
  violations(): Promise<string[]>;
  assertConforms(): Promise<void>;
  requests(query?: Record<string, string | number>): Promise<Array<Record<string, any>>>;

  /** The payments API's base URL: `${baseUrl}/payment`. */
  readonly paymentsUrl: string;
  /** A payments accessToken (POST /payment/customer/v1/auth with the tenant's keys). */
  paymentToken(): Promise<string>;
  /** The payer approves at the bank, no browser: a redirectConsentURL (instant payment,
   * Automatic Pix consent) or a WhiteLabel paymentURL ({ institutionId: '341' }); the
   * partner URL landed on. */
  approvePayment(url: string, query?: Record<string, string>): Promise<string>;
  refusePayment(url: string, query?: Record<string, string>): Promise<string>;
  bankJourney(url: string, query: Record<string, string>): Promise<string>;
  waitForPaymentEvent(
    name: 'payment_status_changed' | 'automatic_consent_status_changed' | 'automatic_payment_status_changed',
    options?: { resourceId?: string; status?: string; timeout?: number },
  ): Promise<KlaviEvent>;
}

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
  json(): any;
}

export interface Receiver {
  url(path?: string): string;
  received: ReceivedWebhook[];
  /** path -> statuses to answer, then 200. */
  scripts: Map<string, number[]>;
  events(path?: string): KlaviEvent[];
  clear(): void;
  close(): Promise<void>;
}

export function startReceiver(options?: { host?: string; port?: number }): Promise<Receiver>;
