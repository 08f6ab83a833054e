/* "Voltar à página anterior" on an error page that knows no better place to go back to. */
(function () {
  Array.prototype.forEach.call(document.querySelectorAll("[data-history-back]"), function (link) {
    link.addEventListener("click", function (ev) { ev.preventDefault(); window.history.back(); });
  });
})();
