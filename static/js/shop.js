// Storefront behaviour that needs JavaScript; every page works without it.
//
// 1. <html class="js">: controls that only make sense with JavaScript (or only without it)
//    are shown or hidden by CSS (.js-only / .nojs-only), before the first paint.
// 2. Keyboard focus is kept on purpose across htmx requests: a button that htmx disables
//    while its request runs (hx-disabled-elt) loses focus to <body>; it gets it back. An
//    element that the swap replaced is found again by id (htmx does this) or by its
//    data-focus-key; failing that, the swapped region's [data-focus-fallback] takes it
//    (a removed cart line hands focus to the cart, not to <body>).
// 3. The header cart is a <details>: opening it fetches its panel (lines and subtotal) once
//    (a cart change re-renders the whole header cart, so it is fetched again after one);
//    Escape or a click elsewhere closes it, and Escape hands focus back to its summary.
document.documentElement.classList.add("js");

(function () {
  var remembered = null;

  function keyOf(element) {
    return element && element.getAttribute && element.getAttribute("data-focus-key");
  }

  document.addEventListener("htmx:beforeRequest", function () {
    var active = document.activeElement;
    remembered = active && active !== document.body ? active : null;
    if (remembered) {
      remembered.__focusKey = keyOf(remembered);
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    restore(event.detail && event.detail.target);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    // A boosted form that led to a new page (checkout details → review): like a page load,
    // the keyboard starts at the top of the new content, not on <body>.
    var active = document.activeElement;
    if (event.detail && event.detail.boosted && (!active || active === document.body)) {
      var main = document.getElementById("main");
      if (main) {
        main.focus({ preventScroll: true });
      }
    }
  });
  document.addEventListener("htmx:afterRequest", function () {
    // No swap (or a swap elsewhere, like the mini-cart): the disabled button is back.
    window.setTimeout(function () {
      restore(null);
    }, 0);
  });

  function restore(region) {
    if (!remembered) {
      return;
    }
    var active = document.activeElement;
    if (active && active !== document.body && active !== remembered) {
      remembered = null; // htmx (or the user) already moved focus somewhere meaningful
      return;
    }
    var target = null;
    if (document.body.contains(remembered)) {
      target = remembered;
    } else if (remembered.__focusKey) {
      target = document.querySelector(
        '[data-focus-key="' + CSS.escape(remembered.__focusKey) + '"]'
      );
    }
    if (!target && region) {
      // The swapped region (or, when it replaced itself, its successor in the document).
      var scope = document.body.contains(region) ? region : document;
      target = scope.querySelector("[data-focus-fallback]");
    }
    if (target && !target.disabled) {
      target.focus({ preventScroll: true });
      remembered = null;
    }
  }
})();

(function () {
  function openCart() {
    return document.querySelector("details.mini-cart[open]");
  }

  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (details.matches && details.matches("details.mini-cart") && details.open && window.htmx) {
        window.htmx.trigger(details, "shop:open");
      }
    },
    true // toggle does not bubble
  );
  document.addEventListener("keydown", function (event) {
    var details = openCart();
    if (event.key !== "Escape" || !details) {
      return;
    }
    var inside = details.contains(document.activeElement);
    details.open = false;
    if (inside) {
      details.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", function (event) {
    var details = openCart();
    if (details && !details.contains(event.target)) {
      details.open = false;
    }
  });
})();

// 4. The header search is an ARIA 1.2 combobox: htmx fills its listbox with suggestions as
//    the shopper types (base.html); here the keys. Down/Up move through the options (the
//    input keeps focus, aria-activedescendant names the option), Enter opens the chosen one
//    or, with none chosen, searches; Escape closes the list (a second Escape clears the
//    field, as a search field does). Without JavaScript it is a plain search form.
function shopCombobox() {
  // This file runs in <head> (before the first paint); the header exists from here on.
  var input = document.getElementById("site-search-q");
  var list = document.getElementById("search-suggestions");
  var status = document.getElementById("search-suggestions-status");
  if (!input || !list) {
    return;
  }
  // A combobox only once this script can open its list: without JavaScript it is announced
  // as the plain search field it then is.
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);

  function options() {
    return Array.prototype.slice.call(list.querySelectorAll('[role="option"]'));
  }

  function active() {
    var id = input.getAttribute("aria-activedescendant");
    return id ? document.getElementById(id) : null;
  }

  function choose(option) {
    options().forEach(function (each) {
      each.setAttribute("aria-selected", each === option ? "true" : "false");
    });
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function show(open) {
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) {
      choose(null);
    }
  }

  // Suggestions for the last keystrokes can arrive after the shopper has already chosen one
  // of those for the first (a slow answer): the same product stays chosen if it is still
  // offered, so Enter opens what the list showed as chosen.
  var kept = null;
  var dismissed = false; // Escape closed the list: an answer arriving later does not reopen it
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail && event.detail.target === list) {
      var current = active();
      kept = current && !list.hidden ? current.getAttribute("href") : null;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail || event.detail.target !== list) {
      return;
    }
    var all = options();
    var count = all.length;
    var again = null;
    for (var i = 0; kept && i < count; i++) {
      if (all[i].getAttribute("href") === kept) {
        again = all[i];
        break;
      }
    }
    kept = null;
    choose(null);
    show(count > 0 && document.activeElement === input && !dismissed);
    if (again && !list.hidden) {
      choose(again);
    }
    if (status) {
      var counted = count + (count === 1 ? " suggestion" : " suggestions") + ". ";
      status.textContent = !count
        ? ""
        : again && !list.hidden
          ? counted + again.textContent.trim() + " is still chosen."
          : counted + "Use the down arrow to choose.";
    }
  });

  input.addEventListener("input", function () {
    dismissed = false;
    choose(null); // the list on screen is for the words before this keystroke
  });

  input.addEventListener("keydown", function (event) {
    if (event.isComposing || event.keyCode === 229) {
      return; // an input method is composing: its keys are its own
    }
    var all = options();
    var current = active();
    var index = current ? all.indexOf(current) : -1;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!all.length) {
        return;
      }
      event.preventDefault();
      dismissed = false;
      show(true);
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = index < 0 ? (step > 0 ? 0 : all.length - 1) : (index + step + all.length) % all.length;
      choose(all[next]);
    } else if (event.key === "Enter" && current && !list.hidden) {
      event.preventDefault();
      window.location.assign(current.href);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      dismissed = true;
      show(false);
    }
  });

  input.addEventListener("blur", function () {
    show(false);
  });
  input.addEventListener("focus", function () {
    dismissed = false;
    if (options().length && input.value.trim()) {
      show(true);
    }
  });
  // A click on an option must not blur the input first (the list would close under it).
  list.addEventListener("mousedown", function (event) {
    event.preventDefault();
  });
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", shopCombobox);
} else {
  shopCombobox();
}

