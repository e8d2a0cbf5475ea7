/* Passkeys (WebAuthn): the browser half of app/accounts/passkey_views.py.
 *
 * Elements marked data-passkey="register|sign-in|second-factor" are hidden until this script
 * finds WebAuthn in the browser, so nobody is offered a button that cannot work. The server
 * sends the options as JSON (base64url for binary fields) and takes the credential back the
 * same way; the ceremony itself stays in the session cookie. Messages go to the element's
 * [data-passkey-status] live region.
 */
(function () {
  "use strict";

  function fromB64u(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64u(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.detail || "Something went wrong. Please try again.");
        }
        return data;
      });
    });
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: fromB64u(item.id), transports: item.transports };
    });
  }

  function creationOptions(o) {
    o.challenge = fromB64u(o.challenge);
    o.user.id = fromB64u(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = fromB64u(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return o;
  }

  function asJSON(credential) {
    var r = credential.response;
    var out = {
      id: credential.id,
      rawId: toB64u(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toB64u(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      out.response.userHandle = r.userHandle ? toB64u(r.userHandle) : null;
    }
    return out;
  }

  function say(root, text) {
    var status = root.querySelector("[data-passkey-status]");
    if (status) status.textContent = text;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Nothing changed.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already has a passkey for your account.";
    }
    if (error && error.name === "SecurityError") {
      return "Passkeys need the shop's own address (not an IP address). Nothing changed.";
    }
    return (error && error.message) || "Something went wrong. Please try again.";
  }

  function busy(root, on) {
    root.querySelectorAll("button").forEach(function (button) {
      button.disabled = on;
      button.setAttribute("aria-busy", on ? "true" : "false");
    });
  }

  function run(root, start) {
    busy(root, true);
    say(root, "Waiting for your device…");
    start()
      .then(function (result) {
        say(root, "Done. One moment…");
        window.location.assign(result.redirect);
      })
      .catch(function (error) {
        busy(root, false);
        say(root, explain(error));
      });
  }

  function register(root) {
    var form = root.querySelector("form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = (form.querySelector("[name=name]") || {}).value || "";
      var password = (form.querySelector("[name=password]") || {}).value || "";
      run(root, function () {
        return post(root.dataset.optionsUrl, { password: password })
          .then(function (options) {
            return navigator.credentials.create({ publicKey: creationOptions(options) });
          })
          .then(function (credential) {
            return post(root.dataset.url, { credential: asJSON(credential), name: name });
          });
      });
    });
  }

  function authenticate(root) {
    root.querySelector("button").addEventListener("click", function () {
      run(root, function () {
        return post(root.dataset.optionsUrl)
          .then(function (options) {
            return navigator.credentials.get({ publicKey: requestOptions(options) });
          })
          .then(function (credential) {
            return post(root.dataset.url, { credential: asJSON(credential) });
          });
      });
    });
  }

  function init() {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    document.querySelectorAll("[data-passkey]").forEach(function (root) {
      root.hidden = false;
      if (root.dataset.passkey === "register") register(root);
      else authenticate(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
