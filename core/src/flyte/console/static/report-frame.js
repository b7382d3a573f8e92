// Flyte console: the frame a report is shown in on a devbox with --auth (see details.js). The console page loads
// this page in an <iframe sandbox="allow-scripts">, fetches the report with its token and posts the HTML here;
// this page writes it into its own document, where the report's scripts run as in a page of their own, in an
// opaque origin: no access to the console page, its storage (the token) or its API as the page.
// Outside such a sandbox (opened in a tab, framed without the sandbox) it does nothing: a report written here
// would run with the console's origin.
(function () {
  "use strict";
  if (window.origin !== "null" || window.parent === window) {
    document.addEventListener("DOMContentLoaded", function () {
      document.body.textContent = "This page shows a report inside the Flyte console only.";
    });
    return;
  }
  var done = false;
  window.addEventListener("message", function (ev) {
    if (done || ev.source !== window.parent || !ev.data || typeof ev.data.flyteReport !== "string") return;
    done = true;
    // the report is HTML by design (the task's own page); this document is sandboxed to show it
    document.open();
    document.write(ev.data.flyteReport);
    document.close();
  });
  window.addEventListener("load", function () {
    window.parent.postMessage({ flyteReportFrame: "ready" }, "*");
  });
})();
