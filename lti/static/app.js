// Talks to the widget API with the bearer token handed out at launch: no cookie needed.
(function () {
  "use strict";
  var root = document.getElementById("wom-app");
  var status = document.getElementById("wom-status");
  var token = root.dataset.token;
  if (!token && location.hash.indexOf("#token=") === 0) {
    token = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", location.pathname);
  }

  function offerWindow(message) {
    status.textContent = message + " ";
    if (root.dataset.window && token) {
      var link = document.createElement("a");
      link.href = root.dataset.window + "#token=" + encodeURIComponent(token);
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = "Open Word of Mouth in a new window";
      status.appendChild(link);
    }
  }

  if (!token) {
    status.textContent = "This window has no access token. Open Word of Mouth from your course in the LMS.";
    return;
  }
  fetch(root.dataset.api, { headers: { Authorization: "Bearer " + token, Accept: "application/json" } })
    .then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    })
    .then(function (result) {
      if (!result.ok) {
        status.textContent = result.body.detail || "Something went wrong. Reload the page to continue.";
        return;
      }
      var where = document.getElementById("wom-where");
      if (where && !where.textContent.trim()) {
        where.textContent = "Signed in as " + (result.body.learner.name || "a learner") +
          " in " + (result.body.item.title || result.body.item.key) + ".";
      }
      status.textContent = "Connected.";
      root.dataset.connected = "true";
    })
    .catch(function () {
      offerWindow("Your browser blocked Word of Mouth inside this page.");
    });
})();
