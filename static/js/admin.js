// Staff area: ask before destructive actions. A submit button (or its form) carrying
// data-confirm shows the question first; answering Cancel stops the submit. Without
// JavaScript the plain form is sent as it is (the server checks every action anyway).
document.addEventListener(
  "submit",
  function (event) {
    var button = event.submitter;
    var message =
      (button && button.getAttribute("data-confirm")) ||
      event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true
);
