// Posts the form named by data-form on load (LTI responses travel as browser form posts).
(function () {
  "use strict";
  var id = document.currentScript.dataset.form;
  document.getElementById(id).submit();
})();
