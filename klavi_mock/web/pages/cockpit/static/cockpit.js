// The cockpit's only script (no framework): buttons call the control API with fetch, the
// result is shown at the top of the page, and regions marked data-live are refreshed in
// place every couple of seconds while the page is open.
"use strict";

(function () {
  const REFRESH_MS = 1500;
  const COOKIE = "klavi_mock_admin_token";

  function adminToken() {
    const found = document.cookie.split("; ").find((c) => c.startsWith(COOKIE + "="));
    return found ? decodeURIComponent(found.slice(COOKIE.length + 1)) : null;
  }

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    const token = adminToken();
    if (token) h["X-Mock-Admin-Token"] = token;
    return h;
  }

  // -- the result of the last action ----------------------------------------------------

  function show(title, body, items, ok) {
    const box = document.getElementById("result");
    if (!box) return;
    box.hidden = false;
    box.className = "result " + (ok ? "ok" : "failed");
    document.getElementById("result-title").textContent = title;
    document.getElementById("result-body").textContent = body ? JSON.stringify(body, null, 2) : "";
    const list = document.getElementById("result-list");
    list.replaceChildren();
    (items || []).forEach((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      list.appendChild(li);
    });
  }

  function showFellDue(answer) {
    const box = document.getElementById("fell-due");
    if (!box) return;
    const list = document.getElementById("fell-due-list");
    list.replaceChildren();
    const items = answer.fellDue || [];
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = "nothing fell due";
      list.appendChild(li);
    }
    items.forEach((item) => {
      const li = document.createElement("li");
      li.textContent = item.dueAt + " · " + item.kind + " · " + item.what +
        (item.consentId ? " · consent " + item.consentId : "") + (item.paymentId ? " · payment " + item.paymentId : "") +
        (item.deliveryId ? " · delivery " + item.deliveryId : "");
      list.appendChild(li);
    });
    box.hidden = false;
  }

  // -- actions: forms marked js-action -----------------------------------------------------

  function bodyOf(form, submitter) {
    // data-type on an input: number, boolean ("true"/"false"), list (a multiple select:
    // none chosen -> null); data-empty="omit" leaves an empty field out, "null" sends null.
    const body = {};
    const data = new FormData(form);
    data.forEach((value, key) => {
      const input = form.elements[key];
      const type = input && input.dataset ? input.dataset.type : undefined;
      const empty = input && input.dataset ? input.dataset.empty : undefined;
      if (type === "list") return;
      if (value === "" && empty === "omit") return;
      if (value === "" && empty === "null") { body[key] = null; return; }
      body[key] = type === "number" ? Number(value) : type === "boolean" ? value === "true" : value;
    });
    Array.from(form.querySelectorAll("select[multiple][data-type=list]")).forEach((select) => {
      const chosen = data.getAll(select.name);
      body[select.name] = chosen.length ? chosen : null;
    });
    if (form.dataset.wrap && form.dataset.wrap in body && typeof body[form.dataset.wrap] === "string") {
      body[form.dataset.wrap] = { all: body[form.dataset.wrap] };  // productsCallbackURL: one URL for all
    }
    if (submitter && submitter.name) body[submitter.name] = submitter.value;
    if ("amount" in body && "unit" in body) {  // the clock's custom amount
      body.seconds = Number(body.amount) * Number(body.unit);
      delete body.amount;
      delete body.unit;
    }
    return body;
  }

  async function act(form, submitter) {
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const method = form.dataset.method || "POST";
    const url = form.dataset.url;
    const body = bodyOf(form, submitter);
    let response, answer;
    try {
      response = await fetch(url, {
        method, credentials: "same-origin",
        headers: headers({ "Content-Type": "application/json" }),
        body: method === "GET" ? undefined : JSON.stringify(body),
      });
      answer = await response.json().catch(() => null);
    } catch (error) {
      show(method + " " + url + " failed", null, [String(error)], false);
      return;
    }
    const title = method + " " + url + " → " + response.status;
    const summary = [];
    if (!response.ok && answer && answer.message) summary.push(answer.message);
    if (response.ok && answer) {
      const consent = answer.consent || (answer.consentId ? answer : null);
      if (consent) summary.push("consent " + consent.consentId + " is " + consent.status + (consent.persona ? " (persona " + consent.persona + ")" : ""));
      if (answer.paymentId) summary.push("payment " + answer.paymentId + " is " + answer.status + (answer.statusReason ? " (" + answer.statusReason.code + ")" : ""));
      if (answer.deliveryId) summary.push("delivery " + answer.deliveryId + " is " + answer.status);
      if (answer.journalId) summary.push("replayed as " + answer.journalId + ": " + answer.method + " " + answer.path + " → " + answer.status);
      if (answer.now) summary.push("mock time is now " + answer.now);
    }
    show(title, answer, summary, response.ok);
    if (form.dataset.kind === "clock" && response.ok) showFellDue(answer);
    if (form.dataset.kind === "reset" && response.ok) {
      const box = document.getElementById("fell-due");
      if (box) box.hidden = true;
    }
    refresh();
  }

  // -- start a journey: the tenant's Basic WhiteLabel URL ----------------------------------

  function journeyUrl(form) {
    const kind = form.elements.kind.value;
    const persona = form.elements.persona.selectedOptions[0];
    if (persona && persona.value) {
      form.elements.taxId.value = (kind === "business" ? persona.dataset.cnpj : persona.dataset.cpf) || "";
    }
    const query = new URLSearchParams();
    const taxId = form.elements.taxId.value.replace(/\D/g, "");
    if (taxId) query.set(kind === "business" ? "business_tax_id" : "personal_tax_id", taxId);
    if (form.elements.redirectUrl.value) query.set("redirect_url", form.elements.redirectUrl.value);
    const base = window.location.origin + "/data/v1/basic-links/" + encodeURIComponent(form.elements.appId.value);
    return base + (query.toString() ? "?" + query.toString() : "");
  }

  document.addEventListener("submit", (event) => {
    if (event.target instanceof HTMLFormElement && event.target.id === "journey") {
      event.preventDefault();
      const url = journeyUrl(event.target);
      document.getElementById("journey-url").textContent = url;
      document.getElementById("journey-open").href = url;
      document.getElementById("journey-copy").textContent = "Copy";
      document.getElementById("journey-result").hidden = false;
    }
  });

  document.addEventListener("click", async (event) => {
    if (!(event.target instanceof HTMLElement) || event.target.id !== "journey-copy") return;
    try {
      await navigator.clipboard.writeText(document.getElementById("journey-url").textContent);
      event.target.textContent = "Copied";
    } catch (error) {
      window.getSelection().selectAllChildren(document.getElementById("journey-url"));
      event.target.textContent = "Selected: press Ctrl+C";
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("js-action")) return;
    event.preventDefault();
    act(form, event.submitter);
  });

  // -- copy as curl -------------------------------------------------------------------

  function quote(text) {
    return "'" + String(text).replace(/'/g, "'\\''") + "'";
  }

  function curlOf(entry, origin) {
    const parts = ["curl", "-X", entry.method, quote(origin + entry.path + (entry.query ? "?" + entry.query : ""))];
    Object.entries(entry.requestHeaders || {}).forEach(([name, value]) => {
      if (name === "authorization") value = value.replace("***", "$TOKEN");
      parts.push("-H", name === "authorization" ? '"' + name + ": " + value + '"' : quote(name + ": " + value));
    });
    if (entry.requestBody !== null && entry.requestBody !== undefined) {
      const body = typeof entry.requestBody === "string" ? entry.requestBody : JSON.stringify(entry.requestBody);
      parts.push("--data", quote(body));
    }
    return parts.join(" ");
  }

  document.addEventListener("click", async (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.dataset.dismiss) {
      document.getElementById(target.dataset.dismiss).hidden = true;
      return;
    }
    if (!target.dataset.curl) return;
    const holder = document.getElementById("entry-" + target.dataset.curl);
    const command = curlOf(JSON.parse(holder.dataset.entry), holder.dataset.origin);
    const box = document.getElementById("curl-box");
    document.getElementById("curl-output").value = command;
    box.hidden = false;
    try {
      await navigator.clipboard.writeText(command);
      target.textContent = "Copied";
    } catch (error) {
      target.textContent = "Copy from the box above";
    }
  });

  // -- live refresh ---------------------------------------------------------------------

  let busy = false;

  function editing(region) {
    const active = document.activeElement;
    return active && region.contains(active) && (active.tagName === "SELECT" || active.tagName === "INPUT" || active.tagName === "TEXTAREA");
  }

  async function refresh() {
    const regions = Array.from(document.querySelectorAll("[data-live][id]"));
    if (!regions.length || busy) return;
    busy = true;
    const status = document.getElementById("live-status");
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", headers: headers({ Accept: "text/html" }) });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      regions.forEach((region) => {
        const next = fresh.getElementById(region.id);
        if (!next || editing(region) || next.innerHTML === region.innerHTML) return;
        const open = Array.from(region.querySelectorAll("details[open][id]")).map((d) => d.id);
        region.innerHTML = next.innerHTML;
        open.forEach((id) => { const d = document.getElementById(id); if (d) d.open = true; });
      });
      if (status) { status.className = "live"; status.textContent = "● live"; }
    } catch (error) {
      if (status) { status.className = "live off"; status.textContent = "○ not refreshing (" + error.message + ")"; }
    } finally {
      busy = false;
    }
  }

  window.setInterval(() => { if (document.visibilityState === "visible") refresh(); }, REFRESH_MS);
})();
