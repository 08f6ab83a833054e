// klavi-mock-helper: drive a running klavi-mock from JavaScript or TypeScript tests (Jest,
// Vitest, node:test) over its control API (/__mock). Zero dependencies: global fetch
// (Node 18+) and node:http for the optional webhook receiver.

/** What a control API call answered when it was not 2xx. */
export class KlaviMockError extends Error {
  constructor(method, path, status, body) {
    super(`klavi-mock control API ${method} ${path}: ${status} ${body}`);
    this.name = 'KlaviMockError';
    this.status = status;
    this.body = body;
  }
}

/** A conformance report with violations of the Klavi API contract. */
export class KlaviContractViolation extends Error {
  constructor(text, report) {
    super(text);
    this.name = 'KlaviContractViolation';
    this.report = report;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `condition` until it returns something truthy; reject after `timeout` ms. */
export async function waitFor(condition, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

function orderingKey({ consentId, linkId } = {}) {
  if (consentId) return { orderingKey: `consent:${consentId}` };
  if (linkId) return { orderingKey: `link:${linkId}` };
  return {};
}

/** The refused deviations of a conformance report that are not runtime conditions a
 * correct client recovers from (an expired token's 401), as lines. */
export function violationsOf(report, appId) {
  const lines = [];
  for (const tenant of report.tenants) {
    if (appId && tenant.appId !== appId) continue;
    for (const [operation, fields] of Object.entries(tenant.violations)) {
      for (const items of Object.values(fields)) {
        for (const item of items) {
          if (!item.tolerated && !item.recoverable) lines.push(`${operation}: ${item.problem} (×${item.count})`);
        }
      }
    }
  }
  return lines;
}

/** The conformance report as text (what `klavi-mock conformance` prints, in short). */
export function renderReport(report) {
  const lines = [];
  for (const tenant of report.tenants) {
    lines.push(`tenant ${tenant.appId}: ${tenant.requests} requests, ${tenant.violationCount} violations of the spec`);
    lines.push('  operations exercised:');
    for (const [op, data] of Object.entries(tenant.operations)) {
      const statuses = Object.entries(data.statuses).map(([s, n]) => `${s}×${n}`).join(', ');
      lines.push(`    ${op.padEnd(38)} ${statuses}`);
    }
    if (Object.keys(tenant.violations).length) {
      lines.push('  deviations (✗ refused, ~ tolerated, ↻ recoverable at run time):');
      for (const [op, fields] of Object.entries(tenant.violations)) {
        lines.push(`    ${op}`);
        for (const items of Object.values(fields)) {
          for (const item of items) {
            const mark = item.tolerated ? '~' : item.recoverable ? '↻' : '✗';
            lines.push(`      ${mark} ${item.problem}  (×${item.count})`);
          }
        }
      }
    }
    lines.push('');
  }
  return lines.length ? lines.join('\n') : 'no requests recorded yet';
}

/**
 * The helper for one running mock.
 * @param {{url?: string, adminToken?: string, appId?: string}} [options]
 *   url: the mock's base URL (default process.env.KLAVI_MOCK_URL, else http://127.0.0.1:8000)
 */
export function klaviMock(options = {}) {
  return new KlaviMock(options);
}

export class KlaviMock {
  constructor({ url, adminToken, appId = 'sandbox-app' } = {}) {
    const env = typeof process !== 'undefined' ? process.env : {};
    this.baseUrl = (url || env.KLAVI_MOCK_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
    this.apiUrl = `${this.baseUrl}/data/v1`;
    this.appId = appId;
    this.adminToken = adminToken ?? env.KLAVI_MOCK_ADMIN_TOKEN;
  }

  async admin(method, path, body, query) {
    const params = query ? `?${new URLSearchParams(Object.entries(query).filter(([, v]) => v != null))}` : '';
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.adminToken) headers['X-Mock-Admin-Token'] = this.adminToken;
    const response = await fetch(`${this.baseUrl}/__mock${path}${params}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new KlaviMockError(method, path, response.status, text);
    return text ? JSON.parse(text) : null;
  }

  // -- state and clock ---------------------------------------------------------------

  /** Forget links, consents, faults, chaos; the tenants' report settings as configured;
   * the clock back on the wall clock (unless rewindClock is false). */
  reset({ rewindClock = true } = {}) {
    return this.admin('POST', '/reset', { rewindClock });
  }

  async now() {
    return (await this.admin('GET', '/clock')).now;
  }

  /** Move the clock forward; returns {now, offsetSeconds, fellDue}. */
  advance(seconds) {
    return this.admin('POST', '/clock/advance', { seconds });
  }

  /** Advance by `seconds`, then on to each pending delivery's next attempt until none is
   * pending (a webhook retry chain driven to its end). Returns the mock's time. */
  async settle(seconds = 0, { timeout = 30000, maxSteps = 100 } = {}) {
    let now = seconds > 0 ? (await this.advance(seconds)).now : await this.now();
    const deadline = Date.now() + timeout;
    for (let step = 0; step < maxSteps; ) {
      const pending = await this.deliveries({ status: 'pending', appId: this.appId });
      if (!pending.length) return now;
      const at = Date.parse(await this.now());
      const ahead = pending.map((d) => (Date.parse(d.nextAttemptAt) - at) / 1000);
      if (ahead.some((s) => s <= 0)) {
        if (Date.now() > deadline) throw new Error(`deliveries still pending after ${timeout} ms`);
        await sleep(50);
        continue;
      }
      now = (await this.advance(Math.min(...ahead) + 0.001)).now;
      step += 1;
    }
    throw new Error(`deliveries still pending after ${maxSteps} clock moves`);
  }

  tenants() {
    return this.admin('GET', '/tenants');
  }

  /** Where the tenant's webhooks go: {eventsUrl, productsCallbackURL, trackingEvents}. */
  setWebhooks(settings, appId = this.appId) {
    return this.admin('PUT', `/tenants/${appId}/webhooks`, settings);
  }

  // -- personas and consents ---------------------------------------------------------

  personas() {
    return this.admin('GET', '/personas');
  }

  /** The CPF (or, with {business: true}, the CNPJ) that takes a persona (its id or title). */
  async taxId(persona, { business = false } = {}) {
    const personas = await this.personas();
    const found = personas.find((p) => p.id === persona || p.title === persona);
    if (!found) throw new Error(`no persona ${JSON.stringify(persona)}; the personas are: ${personas.map((p) => p.id).join(', ')}`);
    const taxId = business ? found.businessTaxId : found.personalTaxId || found.businessTaxId;
    if (!taxId) throw new Error(`persona ${persona} has no tax id of its own (any valid tax id takes it)`);
    return taxId;
  }

  consent(consentId) {
    return this.admin('GET', `/consents/${consentId}`);
  }

  consents(query) {
    return this.admin('GET', '/consents', undefined, query);
  }

  force(consentId, status) {
    return this.admin('POST', `/consents/${consentId}/force`, { status });
  }

  usePersona(consentId, persona) {
    return this.admin('POST', `/consents/${consentId}/persona`, { persona });
  }

  /** The user's answer at the bank and at Klavi's LGPD step, without a browser:
   * returns {consent, returnURL, waiting}. */
  answerAtBank(consentId, { decision = 'approve', lgpd = 'accept', permissions } = {}) {
    const body = { decision };
    if (decision === 'approve') body.lgpd = lgpd;
    if (permissions) body.permissions = permissions;
    return this.admin('POST', `/consents/${consentId}/bank`, body);
  }

  approve(consentId, options = {}) {
    return this.answerAtBank(consentId, { ...options, decision: 'approve' });
  }

  declineLgpd(consentId) {
    return this.answerAtBank(consentId, { decision: 'approve', lgpd: 'decline' });
  }

  deny(consentId) {
    return this.answerAtBank(consentId, { decision: 'deny' });
  }

  // -- webhooks ------------------------------------------------------------------------

  /** Every delivery in the webhook log matching the filters (appId, kind, name, status,
   * requestId, orderingKey, consentId, linkId), newest first. */
  async deliveries({ consentId, linkId, ...filters } = {}) {
    const query = { ...orderingKey({ consentId, linkId }), ...filters, limit: 1000 };
    const items = [];
    for (;;) {
      const page = await this.admin('GET', '/webhooks', undefined, query);
      items.push(...page.items);
      if (!page.nextCursor) return items;
      query.cursor = page.nextCursor;
    }
  }

  /** The newest delivery (named `name`, about a consent or link) once one has `status`
   * (default delivered). */
  async waitForDelivery({ name, consentId, linkId, status = 'delivered', timeout = 10000 } = {}) {
    const filters = { status, appId: this.appId, consentId, linkId, ...(name ? { name } : {}) };
    const found = await waitFor(async () => {
      const items = await this.deliveries(filters);
      return items.length ? items : null;
    }, { timeout, what: `a ${status} delivery ${name ?? ''} ${consentId ?? linkId ?? ''}` });
    return found[0];
  }

  /** The newest event `name` (about a consent or link) the mock delivered (answered 2xx). */
  async waitForEvent(name, { consentId, linkId, timeout = 10000 } = {}) {
    const wanted = consentId ?? linkId;
    return waitFor(async () => {
      const items = await this.deliveries({ kind: 'event', status: 'delivered', appId: this.appId, consentId, linkId });
      for (const delivery of items) {
        const events = Array.isArray(delivery.body) ? delivery.body : [delivery.body];
        const event = events.find((e) => e.eventName === name && (!wanted || JSON.stringify(e).includes(`"${wanted}"`)));
        if (event) return event;
      }
      return null;
    }, { timeout, what: `the ${name} webhook${wanted ? ` about ${wanted}` : ''}` });
  }

  /** Send one delivery again, or every delivery with `status` matching the filters. */
  redeliver({ deliveryId, status = 'failed', ...filters } = {}) {
    if (deliveryId) return this.admin('POST', `/webhooks/${deliveryId}/redeliver`);
    return this.admin('POST', '/webhooks/redeliver', { status, ...filters });
  }

  /** The tenant's webhook chaos ({duplicate: 1, badSignature: 0.5, seed: 7, ...}). */
  setChaos(modes, appId = this.appId) {
    return this.admin('PUT', `/tenants/${appId}/chaos`, modes);
  }

  clearChaos(appId = this.appId) {
    return this.admin('DELETE', `/tenants/${appId}/chaos`);
  }

  /** How the tenant's reports are delivered: {reportDelivery, activatedProducts, encryptSensitiveFields}. */
  setReportDelivery(settings, appId = this.appId) {
    return this.admin('PUT', `/tenants/${appId}/reports`, settings);
  }

  // -- faults --------------------------------------------------------------------------

  /** A fault rule ({operationId: 'createConsent', status: 429, retryAfterSeconds: 2, times: 1}). */
  addFault(rule) {
    return this.admin('POST', '/faults', rule);
  }

  faults() {
    return this.admin('GET', '/faults');
  }

  removeFault(faultId) {
    return this.admin('DELETE', `/faults/${faultId}`);
  }

  clearFaults() {
    return this.admin('DELETE', '/faults');
  }

  /** Run `fn` with a fault rule in force; the rule is removed afterwards. */
  async withFault(rule, fn) {
    const created = await this.addFault(rule);
    try {
      return await fn(created);
    } finally {
      await this.removeFault(created.faultId).catch(() => {});
    }
  }

  // -- conformance ---------------------------------------------------------------------

  conformance(appId) {
    return this.admin('GET', '/conformance', undefined, appId ? { appId } : undefined);
  }

  async violations() {
    return violationsOf(await this.conformance());
  }

  /** Throw KlaviContractViolation, whose message is the conformance report, if the client
   * broke the contract (an expired token's 401 and fault answers are not violations). */
  async assertConforms() {
    const report = await this.conformance();
    const lines = violationsOf(report);
    if (lines.length) {
      const text = `the client under test broke the Klavi API contract:\n${lines.map((l) => `  ✗ ${l}`).join('\n')}\n\n${renderReport(report)}`;
      throw new KlaviContractViolation(text, report);
    }
  }

  requests(query) {
    return this.admin('GET', '/requests', undefined, query).then((page) => page.items);
  }

  // -- payments (the payments API, /payment) ------------------------------------------------

  /** The payments API's base URL: `${baseUrl}/payment`. */
  get paymentsUrl() {
    return `${this.baseUrl}/payment`;
  }

  /** A payments accessToken for the tenant (POST /payment/customer/v1/auth with its keys). */
  async paymentToken() {
    const tenant = (await this.tenants()).find((t) => t.appId === this.appId);
    if (!tenant) throw new Error(`klavi-mock has no tenant ${this.appId}`);
    const response = await fetch(`${this.paymentsUrl}/customer/v1/auth`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ accessKey: tenant.accessKey, secretKey: tenant.secretKey }),
    });
    const text = await response.text();
    if (!response.ok) throw new KlaviMockError('POST', '/payment/customer/v1/auth', response.status, text);
    return JSON.parse(text).accessToken;
  }

  /** The payer approves at the bank without a browser: an instant payment's or an Automatic
   * Pix consent's redirectConsentURL, or a WhiteLabel paymentURL (with { institutionId:
   * '341' }); resolves to the partner URL the browser lands on. */
  approvePayment(url, query = {}) {
    return this.bankJourney(url, { decision: 'approve', ...query });
  }

  /** The payer refuses at the bank (as approvePayment). */
  refusePayment(url, query = {}) {
    return this.bankJourney(url, { decision: 'deny', ...query });
  }

  /** Follow the bank's redirects until they leave the mock; that URL. */
  async bankJourney(url, query) {
    const mock = new URL(this.baseUrl).host;
    let next = `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(query)}`;
    for (let hops = 0; hops < 10; hops += 1) {
      const response = await fetch(next, { redirect: 'manual' });
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) {
        throw new KlaviMockError('GET', next, response.status, await response.text());
      }
      next = new URL(location, next).toString();
      if (new URL(next).host !== mock) return next;
    }
    throw new Error(`the bank journey from ${url} did not leave the mock`);
  }

  /** The newest payment event `name` the mock delivered (answered 2xx) about a payment or
   * consent (resourceId: its payload's id or consentId), with payload.status `status`. */
  async waitForPaymentEvent(name, { resourceId, status, timeout = 10000 } = {}) {
    const about = (e) => !resourceId || e.payload?.id === resourceId || e.payload?.consentId === resourceId;
    return waitFor(async () => {
      const items = await this.deliveries({ kind: 'event', status: 'delivered', appId: this.appId, name });
      for (const delivery of items) {
        const events = Array.isArray(delivery.body) ? delivery.body : [delivery.body];
        const event = events.find((e) => e.eventName === name && about(e) && (!status || e.payload?.status === status));
        if (event) return event;
      }
      return null;
    }, { timeout, what: `the ${name} webhook${resourceId ? ` about ${resourceId}` : ''}${status ? ` with ${status}` : ''}` });
  }
}

/** A webhook receiver on a loopback port (node:http): records each POST and answers 200,
 * or the statuses scripted for its path. Node only. */
export async function startReceiver({ host = '127.0.0.1', port = 0 } = {}) {
  const { createServer } = await import('node:http');
  const received = [];
  const scripts = new Map();
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const script = scripts.get(request.url);
      const status = script && script.length ? script.shift() : 200;
      received.push({ path: request.url, headers: request.headers, body, status, json: () => JSON.parse(body) });
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ received: true }));
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const base = `http://${host}:${server.address().port}`;
  return {
    url: (path = '/') => `${base}${path}`,
    received,
    scripts,
    events: (path = '/events') => received.filter((r) => r.path === path).flatMap((r) => [].concat(r.json())),
    clear() {
      received.length = 0;
      scripts.clear();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
