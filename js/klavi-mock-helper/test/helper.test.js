// The helper against a real klavi-mock: KLAVI_MOCK_URL's, or one this file starts with
// `klavi-mock serve` on a free loopback port (the command from PATH).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { klaviMock, startReceiver, waitFor, KlaviContractViolation, KlaviMockError } from '../index.js';

let server;
let mock;
let receiver;

async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

before(async () => {
  let url = process.env.KLAVI_MOCK_URL;
  if (!url) {
    const port = await freePort();
    server = spawn('klavi-mock', ['serve', '--host', '127.0.0.1', '--port', String(port)], { stdio: 'ignore' });
    url = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${url}/__mock/clock`).then((r) => r.ok, () => false), { timeout: 20000, what: 'klavi-mock to start' });
  }
  mock = klaviMock({ url });
  receiver = await startReceiver();
});

after(async () => {
  await receiver?.close();
  server?.kill();
});

beforeEach(async () => {
  await mock.reset();
  receiver.clear();
  await mock.setWebhooks({ eventsUrl: receiver.url('/events'), productsCallbackURL: { all: receiver.url('/reports') } });
});

// A partner's client, as small as it gets.
async function signIn() {
  const [tenant] = (await mock.tenants()).filter((t) => t.appId === mock.appId);
  const r = await fetch(`${mock.apiUrl}/auth`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ accessKey: tenant.accessKey, secretKey: tenant.secretKey }) });
  return (await r.json()).accessToken;
}

function post(path, token, body) {
  return fetch(`${mock.apiUrl}${path}`, { method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } });
}

async function createConsent(taxId = '52998224725', track = 't-1') {
  const link = await (await post('/links', await signIn(), { personalTaxId: taxId })).json();
  const consent = await (await post('/consents', link.linkToken, { externalTrackId: track, personalTaxId: taxId,
    institutionCode: '341', redirectURL: 'https://partner.example.com/back' })).json();
  return { link, consent };
}

test('payments: a token, the payer at the bank without a browser, the payment event', async () => {
  const token = await mock.paymentToken();
  const pay = async (clientRequestId) => (await fetch(`${mock.paymentsUrl}/customer/v1/instant/payments`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ clientRequestId, institutionId: 'c8f0bf49-4744-4933-8960-7add6e590841',
      customer: { identifierType: 'CPF', identifier: '76109277673', name: 'Klavi Test' }, initType: 'PIX_DICT',
      proxy: '44471172000119', amount: '1333.00', currency: 'BRL', redirectUrl: 'https://partner.example.com/pix/return' }),
  })).json();
  const approved = await pay('order-1');
  const back = await mock.approvePayment(approved.redirectConsentURL);
  assert.ok(back.startsWith('https://partner.example.com/pix/return?') && back.includes('status=PAYMENT_PENDING'), back);
  await mock.advance(10);
  const done = await mock.waitForPaymentEvent('payment_status_changed', { resourceId: approved.id, status: 'PAYMENT_COMPLETED' });
  assert.equal(done.eventType, 'payment');
  const refused = await pay('order-2');
  assert.ok((await mock.refusePayment(refused.redirectConsentURL)).includes('status=CONSENT_REJECTED'));
  await mock.waitForPaymentEvent('payment_status_changed', { resourceId: refused.id, status: 'CONSENT_REJECTED' });
  await assert.rejects(
    mock.waitForPaymentEvent('payment_status_changed', { resourceId: refused.id, status: 'PAYMENT_COMPLETED', timeout: 300 }),
    /timed out/,
  );
});

test('personas and their tax ids', async () => {
  const personas = await mock.personas();
  assert.ok(personas.some((p) => p.id === 'lgpd-declined'));
  assert.equal(await mock.taxId('lgpd-declined'), '00000000272');
  assert.equal(await mock.taxId('lgpd-declined', { business: true }), '00000002000180');
  await assert.rejects(mock.taxId('nobody'), /no persona "nobody"/);
});

test('approve at the bank and wait for this consent\'s event and delivery', async () => {
  const first = await createConsent('52998224725', 'a');
  const second = await createConsent('52998224725', 'b');
  const answer = await mock.approve(first.consent.consentId);
  assert.equal(answer.consent.status, 'AUTHORISED');
  assert.ok(answer.returnURL.startsWith('https://partner.example.com/back?'));
  const event = await mock.waitForEvent('consent_authorised', { consentId: first.consent.consentId });
  assert.equal(event.payload.consents.consentId, first.consent.consentId);
  const delivery = await mock.waitForDelivery({ name: 'link_created', linkId: second.link.linkId });
  assert.equal(delivery.orderingKey, `link:${second.link.linkId}`);
  await waitFor(() => receiver.events().some((e) => e.eventName === 'consent_authorised'));
  await assert.rejects(mock.waitForEvent('consent_authorised', { consentId: second.consent.consentId, timeout: 300 }), /timed out/);
});

test('deny at the bank, decline at the LGPD step', async () => {
  const denied = await createConsent('52998224725', 'a');
  assert.equal((await mock.deny(denied.consent.consentId)).consent.status, 'REJECTED');
  const declined = await createConsent('52998224725', 'b');
  assert.equal((await mock.declineLgpd(declined.consent.consentId)).consent.statusReason.code, 'LGPD_DECLINED');
  await assert.rejects(mock.deny(denied.consent.consentId), (e) => e instanceof KlaviMockError && e.status === 409);
});

test('the clock, and settle drives a retry chain to its end', async () => {
  receiver.scripts.set('/events', [500, 500, 500, 500, 500]);
  const { link } = await createConsent();
  await mock.waitForDelivery({ linkId: link.linkId, status: 'pending' });
  await mock.settle();
  const [delivery] = await mock.deliveries({ linkId: link.linkId, name: 'link_created' });
  assert.equal(delivery.status, 'delivered');
  assert.equal(delivery.attempts.length, 6);
  const before = Date.parse(await mock.now());
  const moved = await mock.advance(3600);
  assert.ok(Date.parse(moved.now) - before >= 3600 * 1000);
});

test('redeliver a failed delivery', async () => {
  receiver.scripts.set('/events', [500, 500, 500, 500, 500, 500]);
  const { link } = await createConsent();
  await mock.settle(1);
  const failed = await mock.waitForDelivery({ linkId: link.linkId, status: 'failed', name: 'link_created' });
  assert.deepEqual(await mock.redeliver({ status: 'failed', name: 'link_created' }), { redelivered: 1, undeliverable: 0 });
  await mock.waitForDelivery({ linkId: link.linkId, name: 'link_created' });
  assert.equal((await mock.redeliver({ deliveryId: failed.deliveryId })).deliveryId, failed.deliveryId);
});

test('fault rules, for a block and until reset', async () => {
  const token = await signIn();
  await mock.withFault({ operationId: 'createLink', status: 429, retryAfterSeconds: 3 }, async (fault) => {
    const r = await post('/links', token, {});
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '3');
    assert.ok(fault.faultId);
  });
  assert.equal((await post('/links', token, {})).status, 200);
  await mock.addFault({ operationId: 'createLink', status: 503 });
  assert.equal((await mock.faults()).length, 1);
  await mock.reset();
  assert.deepEqual(await mock.faults(), []);
});

test('chaos and report delivery', async () => {
  await mock.setChaos({ duplicate: 1, seed: 4 });
  await mock.setReportDelivery({ reportDelivery: 'automatic', activatedProducts: ['pf_balance'] });
  const { consent } = await createConsent();
  await mock.approve(consent.consentId);
  await waitFor(() => receiver.received.some((r) => r.path === '/reports' && r.json().productName === 'pf_balance'));
  await waitFor(() => receiver.events().filter((e) => e.eventName === 'consent_authorised').length === 2);
  assert.equal((await mock.clearChaos()).duplicate, 0);
  const [tenant] = (await mock.tenants()).filter((t) => t.appId === mock.appId);
  assert.equal(tenant.reportDelivery, 'automatic');
  await mock.reset();
  const [after] = (await mock.tenants()).filter((t) => t.appId === mock.appId);
  assert.equal(after.reportDelivery, 'on-request');
});

test('an expired token is not a violation; a refused request fails with the report', async () => {
  const token = await signIn();
  await mock.advance(3601);
  assert.equal((await post('/links', token, {})).status, 401);
  assert.equal((await post('/links', await signIn(), {})).status, 200);
  await mock.assertConforms();
  assert.deepEqual(await mock.violations(), []);
  await post('/links', await signIn(), { personalTaxId: '123' });
  await assert.rejects(mock.assertConforms(), (error) => {
    assert.ok(error instanceof KlaviContractViolation);
    assert.match(error.message, /✗ createLink: body\.personalTaxId: .*11 digits/);
    assert.match(error.message, /↻ header\.Authorization: the accessToken expired at/);
    return true;
  });
});
