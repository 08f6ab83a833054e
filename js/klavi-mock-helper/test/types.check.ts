// Type-checked by tests/processes/test_js_helper.py when a TypeScript compiler is at hand
// (tsc on PATH, or KLAVI_MOCK_TSC); never run.
import { klaviMock, startReceiver, waitFor, KlaviContractViolation, type Delivery, type KlaviEvent } from '../index.js';

async function main(): Promise<void> {
  const mock = klaviMock({ url: 'http://127.0.0.1:8000' });
  await mock.reset();
  const cpf: string = await mock.taxId('lgpd-declined');
  const answer = await mock.answerAtBank('c', { decision: 'approve', lgpd: 'decline' });
  const url: string | null = answer.returnURL;
  const event: KlaviEvent = await mock.waitForEvent('consent_authorised', { consentId: 'c' });
  const delivery: Delivery = await mock.waitForDelivery({ linkId: 'l', status: 'failed' });
  await mock.setChaos({ duplicate: 1, seed: 7 });
  await mock.setReportDelivery({ reportDelivery: 'automatic', activatedProducts: null });
  const n: number = await mock.withFault({ operationId: 'createLink', status: 429 }, async (f) => f.faultId.length);
  const receiver = await startReceiver();
  receiver.scripts.set('/events', [500]);
  const ok: boolean = await waitFor(() => receiver.events().length > 0, { timeout: 100 });
  try { await mock.assertConforms(); } catch (e) { if (e instanceof KlaviContractViolation) console.log(e.report.tenants[0].violationCount); }
  const now: string = await mock.settle(60);
  console.log(cpf, url, event.eventName, delivery.status, n, ok, now, (await mock.advance(1)).fellDue.length);
  const paid: string = await mock.approvePayment(`${mock.paymentsUrl}/x`, { institutionId: '341' });
  const token: string = await mock.paymentToken();
  const settled: KlaviEvent = await mock.waitForPaymentEvent('payment_status_changed', { resourceId: 'p', status: 'PAYMENT_COMPLETED' });
  console.log(paid, token, settled.payload);
  // @ts-expect-error: decision is approve or deny
  await mock.answerAtBank('c', { decision: 'maybe' });
}
void main;
