// Word of Mouth widgets: loads each widget's server-rendered HTML with the launch's bearer token,
// sends the forms inside it to the JSON API, and reloads the widget after each action.
// No HTML is built here: the server escapes and translates everything.
(function () {
  "use strict";
  var root = document.getElementById("wom-app");
  if (!root) { return; }
  var status = document.getElementById("wom-status");
  var token = root.dataset.token;
  if (!token && location.hash.indexOf("#token=") === 0) {
    token = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", location.pathname);
  }
  var text = root.dataset;  // translated messages rendered by the server

  function announce(message) {
    // Clear first so the same message twice is announced twice.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function api(method, url, body, accept) {
    var headers = { Authorization: "Bearer " + token, Accept: accept || "application/json" };
    var options = { method: method, headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.ok) { return response; }
      return response.json().catch(function () { return {}; }).then(function (problem) {
        var error = new Error(problem.detail || text.failed);
        error.problem = problem;
        throw error;
      });
    });
  }

  function offerWindow(message) {
    status.className = "wom-note";  // shown, not only announced: sighted people need the link too
    status.textContent = message + " ";
    if (root.dataset.window && token) {
      var link = document.createElement("a");
      link.href = root.dataset.window + "#token=" + encodeURIComponent(token);
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = text.newWindow;
      status.appendChild(link);
    }
  }

  // -- loading widgets --------------------------------------------------------------------------
  function load(container, params, focusSelector) {
    var url = container.dataset.src + (params ? "?" + params : "");
    return api("GET", url, undefined, "text/html").then(function (response) {
      return response.text();
    }).then(function (html) {
      container.innerHTML = html;
      var body = container.firstElementChild;
      container.dataset.params = body && body.dataset.params ? body.dataset.params : (params || "");
      if (focusSelector) {
        var target = container.querySelector(focusSelector);
        if (target) {
          if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
            target.setAttribute("tabindex", "-1");
          }
          target.focus();
        }
      }
      resize();
    });
  }

  function widgetOf(element) { return element.closest("[data-widget]"); }

  function showError(widget, form, error) {
    var summary = widget.querySelector(".wom-error-summary");
    var fields = (error.problem && error.problem.errors) || {};
    if (form) {
      form.querySelectorAll("[data-error-for]").forEach(function (slot) {
        var messages = fields[slot.dataset.errorFor];
        slot.hidden = !messages;
        slot.textContent = messages ? messages.join(" ") : "";
        var input = form.querySelector("[name='" + slot.dataset.errorFor + "']");
        if (input) { input.setAttribute("aria-invalid", messages ? "true" : "false"); }
      });
    }
    if (summary) {
      summary.querySelector(".wom-error-text").textContent = error.message;
      summary.hidden = false;
      summary.focus();
    } else {
      announce(error.message);
    }
    resize();
  }

  function formBody(form) {
    var body = {};
    var integers = (form.dataset.int || "").split(" ");
    new FormData(form).forEach(function (value, name) {
      body[name] = integers.indexOf(name) >= 0 ? parseInt(value, 10) : value;
    });
    return body;
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.loadForm !== undefined) {
      // A search: the widget reloads with the form's fields as its query.
      event.preventDefault();
      var searched = widgetOf(form);
      var query = new URLSearchParams(new FormData(form)).toString();
      load(searched, query, form.dataset.focus || "h2").catch(function (error) { showError(searched, form, error); });
      return;
    }
    if (!form.dataset.api) { return; }
    event.preventDefault();
    var widget = widgetOf(form);
    var method = form.dataset.method || "POST";
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var body = method === "DELETE" ? undefined : formBody(form);
    api(method, form.dataset.api, body).then(function () {
      return load(widget, widget.dataset.params, form.dataset.focus || "h2").then(function () {
        announce(form.dataset.done || text.saved);
        refreshOthers(widget);
      });
    }).catch(function (error) {
      buttons.forEach(function (b) { b.disabled = false; });
      showError(widget, form, error);
    });
  });

  // The moderation panel shows the widgets' items: after a change on one side, refresh the other
  // side (never a learner widget from another learner widget: that would wipe what they type).
  function refreshOthers(changed) {
    var fromModeration = changed.dataset.widget === "moderation";
    root.querySelectorAll("[data-widget]").forEach(function (widget) {
      var isModeration = widget.dataset.widget === "moderation";
      if (widget !== changed && widget.dataset.loaded === "true" && (fromModeration || isModeration)) {
        load(widget, widget.dataset.params);
      }
    });
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !root.contains(button)) { return; }
    var widget = widgetOf(button);
    if (button.dataset.toggle) {
      var panel = document.getElementById(button.dataset.toggle);
      var opening = panel.hidden;
      panel.hidden = !opening;
      widget.querySelectorAll("[data-toggle='" + button.dataset.toggle + "'][aria-expanded]").forEach(function (b) {
        b.setAttribute("aria-expanded", opening ? "true" : "false");
      });
      if (opening) {
        var field = panel.querySelector("textarea, input:not([type=hidden]), button");
        if (field) { field.focus(); }
      } else {
        var opener = widget.querySelector("[data-toggle='" + button.dataset.toggle + "'][aria-expanded]");
        if (opener) { opener.focus(); }
      }
      resize();
    } else if (button.dataset.load) {
      load(widget, button.dataset.load, "h2").catch(function (error) { showError(widget, null, error); });
    } else if (button.dataset.more) {
      button.disabled = true;
      var item = button.closest("li");
      api("GET", widget.dataset.src + "?" + button.dataset.more, undefined, "text/html").then(function (response) {
        return response.text();
      }).then(function (html) {
        var list = item.parentNode;
        var marker = item.previousElementSibling;
        item.insertAdjacentHTML("afterend", html);
        item.remove();
        var next = marker ? marker.nextElementSibling : list.firstElementChild;
        var heading = next && next.querySelector("[id$='-by']");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
        resize();
      }).catch(function (error) { button.disabled = false; showError(widget, null, error); });
    } else if (button.dataset.download) {
      api("GET", button.dataset.download, undefined, "text/csv").then(function (response) {
        return response.blob();
      }).then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = button.dataset.filename || "export.csv";
        document.body.appendChild(link);
        link.click();
        link.remove();
      }).catch(function (error) { showError(widget, null, error); });
    }
  });

  root.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.dataset.loadParam) { return; }
    var widget = widgetOf(select);
    load(widget, select.dataset.loadParam + "=" + encodeURIComponent(select.value), "#" + select.id)
      .catch(function (error) { showError(widget, null, error); });
  });

  // -- fitting the LMS frame (Canvas and the demo LMS honour lti.frameResize) ----------------------
  var lastHeight = 0;
  // The body's own height, not the document's: that one never shrinks below the frame's height.
  function contentHeight() {
    var style = getComputedStyle(document.body);
    return Math.ceil(document.body.getBoundingClientRect().height + parseFloat(style.marginTop) +
      parseFloat(style.marginBottom));
  }
  function resize() {
    var height = contentHeight();
    if (height !== lastHeight && window.parent !== window) {
      lastHeight = height;
      window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
    }
  }
  if (window.ResizeObserver) { new ResizeObserver(resize).observe(document.body); }

  // -- start -------------------------------------------------------------------------------------
  if (!token) {
    status.className = "wom-note";
    status.textContent = text.noToken;
    return;
  }
  function addContainers(me) {
    // A window of its own knows its widgets only from the token: ask the API which were placed.
    var kinds = ((me.placement && me.placement.widget_kinds) || ["ratings", "comments"]).filter(function (k) {
      return ["ratings", "comments", "colleagues", "recommendations"].indexOf(k) >= 0;
    });
    if (me.staff && kinds.length) { kinds.push("moderation"); }
    kinds.forEach(function (kind) {
      var container = document.createElement("div");
      container.className = "wom-widget";
      container.dataset.widget = kind;
      container.dataset.src = root.dataset.fragments.replace("KIND", kind);
      root.appendChild(container);
    });
    var where = document.getElementById("wom-where");
    if (where && !where.textContent.trim()) {
      where.textContent = (me.item.title || me.item.key) + " · " + me.learner.name;
    }
  }

  function start() {
    var containers = root.querySelectorAll("[data-widget]");
    return Promise.all(Array.prototype.map.call(containers, function (container) {
      return load(container, container.dataset.params).then(function () { container.dataset.loaded = "true"; });
    }));
  }

  var ready = root.querySelector("[data-widget]") ? start() :
    api("GET", root.dataset.api).then(function (r) { return r.json(); }).then(addContainers).then(start);
  ready.then(function () {
    root.dataset.connected = "true";
    resize();
  }).catch(function (error) {
    if (error instanceof TypeError) {
      offerWindow(text.blocked);
    } else {
      status.className = "wom-note";
      status.textContent = error.message;
    }
  });
})();
