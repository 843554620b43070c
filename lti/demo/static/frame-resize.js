// The demo LMS honours lti.frameResize like Canvas does: the tool asks for a height, the LMS sets it.
// Only messages from the framed tool's own window and origin count.
(function () {
  "use strict";
  var frame = document.getElementById("tool-frame");
  if (!frame) { return; }
  var toolOrigin = new URL(frame.src, location.href).origin;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || event.origin !== toolOrigin) { return; }
    if (!data || data.subject !== "lti.frameResize") { return; }
    var height = parseInt(data.height, 10);
    // The page's box-sizing is border-box: add the frame's own borders, or the last pixels scroll.
    var borders = frame.offsetHeight - frame.clientHeight;
    if (height > 0 && height < 20000) { frame.style.height = (height + borders) + "px"; }
  });
})();
