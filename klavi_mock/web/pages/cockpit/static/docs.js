// Swagger UI for the mock's contracts, offline: its assets are served by the mock, the
// spec's server is this mock, and try-it-out sends the cockpit's admin token if there is one.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("klavi_mock_admin_token="));
  const token = cookie ? decodeURIComponent(cookie.split("=").slice(1).join("=")) : null;
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: true,
    validatorUrl: null,
    requestInterceptor: (request) => {
      if (token && new URL(request.url, window.location.href).pathname.startsWith("/__mock")) {
        request.headers["X-Mock-Admin-Token"] = token;
      }
      return request;
    },
  });
});
