/* Progressive enhancement only: filters the list while typing. The GET search works without it. */
(function () {
  var input = document.querySelector("[data-filter-input]");
  var list = document.querySelector("[data-filter-list]");
  var empty = document.querySelector("[data-filter-empty]");
  if (!input || !list || !("normalize" in String.prototype)) return;
  var items = Array.prototype.slice.call(list.children);
  function fold(s) { return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim(); }
  input.addEventListener("input", function () {
    var q = fold(input.value), shown = 0;
    items.forEach(function (li) {
      var ok = !q || li.getAttribute("data-name").indexOf(q) !== -1 || li.getAttribute("data-code") === q;
      li.hidden = !ok;
      if (ok) shown++;
    });
    if (empty) empty.hidden = shown > 0;
  });
})();
