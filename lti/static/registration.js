// LTI Dynamic Registration 1.0 §3.6.1: tell the LMS the registration is done so it closes its dialog.
(function () {
  "use strict";
  var button = document.getElementById("wom-registration-done");
  var status = document.getElementById("wom-registration-status");
  button.addEventListener("click", function () {
    var message = { subject: "org.imsglobal.lti.close" };
    var targets = [window.opener, window.parent !== window ? window.parent : null];
    var sent = false;
    targets.forEach(function (target) {
      if (target) {
        target.postMessage(message, "*"); // the message carries nothing secret
        sent = true;
      }
    });
    status.textContent = sent ? status.dataset.sent : status.dataset.alone;
  });
})();
