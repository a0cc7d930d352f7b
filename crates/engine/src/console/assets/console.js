// Switchyard console: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* nothing */ }
      document.body.removeChild(area);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // OAuth2 "Connect": the form posts into a popup, which goes on to the service.
    var popup = form.getAttribute("data-popup");
    if (popup) {
      window.open("", popup, "width=600,height=720");
    }
  });

  // The OAuth2 callback page tells its opener "success" (from this origin only).
  window.addEventListener("message", function (event) {
    if (event.origin === window.location.origin && event.data === "success") {
      window.location.href = "/credentials?connected=1";
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Import: a chosen file fills the JSON box.
    document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        var target = document.getElementById(input.getAttribute("data-fill"));
        if (!file || !target) return;
        var reader = new FileReader();
        reader.onload = function () { target.value = reader.result; };
        reader.readAsText(file);
      });
    });
    // A running execution's page reloads until it ends.
    var reload = document.querySelector("[data-reload]");
    if (reload) {
      window.setTimeout(function () { window.location.reload(); },
        parseInt(reload.getAttribute("data-reload"), 10) || 2000);
    }
  });
})();
