/// The preview's stylesheet and script, served from the preview itself (the page's CSP allows
/// nothing else). The script only polls the preview for changes and wires up the buttons.
enum PreviewAssets {
    static let css = """
        :root { color-scheme: light dark; --fg: #1d1d1f; --bg: #f4f4f6; --panel: #ffffff; --muted: #5a5d63; --line: #d5d7dc;
          --accent: #0b57d0; --bad: #b3261e; --warn: #8a5a00; --good: #1e6b34; --mark: #fff2a8; }
        @media (prefers-color-scheme: dark) {
          :root { --fg: #ececef; --bg: #141518; --panel: #1d1f23; --muted: #a9adb4; --line: #3a3d44; --accent: #8ab4f8;
            --bad: #f2b8b5; --warn: #f6d67a; --good: #8fd19e; --mark: #5c4b00; }
        }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        a { color: var(--accent); }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .bar { padding: 12px 16px; background: var(--panel); border-bottom: 1px solid var(--line); }
        .bar h1 { font-size: 1.25rem; margin: 0; overflow-wrap: anywhere; }
        .bar p { margin: 0; }
        main { padding: 12px; max-width: 1500px; margin: 0 auto; }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0 0 12px; }
        .panel h2 { font-size: 1.1rem; margin: 0 0 8px; }
        .small { color: var(--muted); font-size: 0.875rem; }
        .bad { color: var(--bad); } .warn { color: var(--warn); } .good { color: var(--good); }
        .error { border-color: var(--bad); border-width: 2px; }
        .error .location { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-weight: 600; overflow-wrap: anywhere; }
        .error .message { white-space: pre-wrap; }
        .inbox { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
        .inbox p { margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .inbox .sender { font-weight: 600; }
        .preheader { color: var(--muted); }
        .views { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
        .view { margin: 0; max-width: 100%; }
        .view figcaption { font-weight: 600; margin-bottom: 4px; }
        .view iframe { display: block; border: 1px solid var(--line); border-radius: 6px; height: 820px; max-width: 100%; background: #fff; }
        .view.desktop iframe { width: 680px; }
        .view.phone iframe { width: 375px; }
        .view.dark iframe { color-scheme: dark; background: #000; }
        .lint { list-style: none; padding: 0; margin: 0; }
        .lint li { margin: 0 0 6px; }
        .finding { display: block; width: 100%; text-align: left; font: inherit; color: inherit; background: none; border: 1px solid var(--line);
          border-radius: 6px; padding: 6px 10px; }
        button.finding { cursor: pointer; }
        button.finding:hover { border-color: var(--accent); }
        .sev { font-weight: 700; text-transform: uppercase; font-size: 0.75rem; }
        .sev.error { color: var(--bad); } .sev.warning { color: var(--warn); } .sev.silenced { color: var(--muted); }
        .text-part { font: 14px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; white-space: pre; overflow-x: auto;
          border: 1px solid var(--line); border-radius: 6px; padding: 10px; max-height: 640px; }
        .headers { border-collapse: collapse; width: 100%; font-size: 0.875rem; }
        .headers th, .headers td { text-align: left; vertical-align: top; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line); }
        .headers td { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
        meter { width: 100%; max-width: 420px; display: block; }
        .source { font: 13px/1.5 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; padding-left: 3.5em; margin: 0;
          max-height: 640px; overflow: auto; }
        .source li { white-space: pre-wrap; overflow-wrap: anywhere; }
        .source li.highlight { background: var(--mark); outline: 2px solid var(--warn); }
        table { border-collapse: collapse; width: 100%; background: var(--panel); }
        caption { text-align: left; padding: 8px 0; color: var(--muted); }
        #drafts th, #drafts td { text-align: left; padding: 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        button { font: inherit; padding: 8px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--panel); cursor: pointer; }
        button[disabled] { opacity: 0.6; cursor: progress; }
        .finding, button.finding { background: none; color: inherit; border-color: var(--line); }
        .sev.ok { color: var(--good); }
        .sev.checking { color: var(--muted); font-style: italic; }
        #links button.finding { overflow-wrap: anywhere; text-align: left; max-width: 100%; }
        form.add-link input { width: 100%; max-width: 36rem; box-sizing: border-box; }
        @media (max-width: 720px) {
          main { padding: 6px; }
          .view, .view iframe, .view.desktop iframe, .view.phone iframe { width: 100%; }
          #drafts thead { display: none; }
          #drafts td { display: block; border: 0; padding: 2px 8px; }
          #drafts tr { display: block; border-bottom: 1px solid var(--line); padding: 6px 0; }
        }

        """

    static let javascript = """
        // hogmail preview: asks the preview every 400 ms whether the project changed and, if so,
        // swaps in the new panels, keeping the page's and each email view's scroll position.
        (function () {
          "use strict";
          var root = document.querySelector("[data-preview]") || document.querySelector("[data-index]");
          if (!root) { return; }
          var status = document.getElementById("status");
          var base = root.getAttribute("data-preview");
          var version = root.getAttribute("data-version");
          var busy = false;

          function say(text) { if (status) { status.textContent = text; } }

          function bind() {
            Array.prototype.forEach.call(document.querySelectorAll("button.finding[data-line]"), function (button) {
              button.addEventListener("click", function () {
                var line = document.getElementById("L" + button.getAttribute("data-line"));
                if (!line) { return; }
                Array.prototype.forEach.call(document.querySelectorAll(".source li.highlight"), function (old) { old.classList.remove("highlight"); });
                line.classList.add("highlight");
                line.setAttribute("tabindex", "-1");
                line.scrollIntoView({ block: "center" });
                line.focus({ preventScroll: true });
              });
            });
            Array.prototype.forEach.call(document.querySelectorAll("form.test-send"), function (form) {
              form.addEventListener("submit", function (event) {
                event.preventDefault();
                var button = form.querySelector("button");
                var result = document.getElementById("test-send-result");
                if (button.disabled) { return; }
                button.disabled = true;
                result.textContent = "Sending…";
                fetch(form.getAttribute("action"), { method: "POST", body: new URLSearchParams(new FormData(form)), headers: { "X-Requested-With": "fetch" } })
                  .then(function (response) { return response.text(); })
                  .then(function (html) { result.innerHTML = html; bind(); })
                  .catch(function () { result.textContent = "The preview server did not answer; the test may not have been sent."; })
                  .then(function () { setTimeout(function () { button.disabled = false; }, 3000); });
              });
            });
            Array.prototype.forEach.call(document.querySelectorAll("form.add-link"), function (form) {
              form.addEventListener("submit", function (event) {
                event.preventDefault();
                var button = form.querySelector("button");
                var result = document.getElementById("add-link-result");
                if (button.disabled) { return; }
                button.disabled = true;
                result.textContent = "Reading the page…";
                fetch(form.getAttribute("action"), { method: "POST", body: new URLSearchParams(new FormData(form)), headers: { "X-Requested-With": "fetch" } })
                  .then(function (response) {
                    return response.text().then(function (html) {
                      result.innerHTML = html;
                      if (response.ok) { form.querySelector("[name=url]").value = ""; form.querySelector("[name=take]").value = ""; }
                    });
                  })
                  .catch(function () { result.textContent = "The preview server did not answer; the link may not have been added."; })
                  .then(function () { button.disabled = false; });
              });
            });
          }

          // What the editor is typing into the add-a-link form survives the panels being replaced.
          function formState() {
            var state = { values: {} };
            Array.prototype.forEach.call(document.querySelectorAll("form.add-link input[id]"), function (input) { state.values[input.id] = input.value; });
            var result = document.getElementById("add-link-result");
            state.result = result ? result.innerHTML : "";
            state.focus = document.activeElement ? document.activeElement.id : "";
            return state;
          }

          function restore(state) {
            Object.keys(state.values).forEach(function (id) {
              var input = document.getElementById(id);
              if (input) { input.value = state.values[id]; }
            });
            var result = document.getElementById("add-link-result");
            if (result && state.result) { result.innerHTML = state.result; }
            var focused = state.focus ? document.getElementById(state.focus) : null;
            if (focused && focused.tagName === "INPUT") { focused.focus(); }
          }

          function refresh() {
            return fetch(base + "/panels", { cache: "no-store" }).then(function (response) {
              var next = response.headers.get("X-Preview-Version");
              return response.text().then(function (html) {
                var frames = {};
                Array.prototype.forEach.call(document.querySelectorAll("iframe[data-frame]"), function (frame) {
                  try { frames[frame.getAttribute("data-frame")] = frame.contentWindow.scrollY; } catch (e) { /* not loaded yet */ }
                });
                var x = window.scrollX, y = window.scrollY;
                var typed = formState();
                root.innerHTML = html;
                restore(typed);
                window.scrollTo(x, y);
                Array.prototype.forEach.call(document.querySelectorAll("iframe[data-frame]"), function (frame) {
                  var top = frames[frame.getAttribute("data-frame")] || 0;
                  frame.addEventListener("load", function () { try { frame.contentWindow.scrollTo(0, top); } catch (e) { /* ignore */ } }, { once: true });
                });
                if (next) { version = next; root.setAttribute("data-version", next); }
                bind();
                say("Updated " + new Date().toLocaleTimeString() + ".");
              });
            });
          }

          function tick() {
            if (busy) { return; }
            busy = true;
            fetch((base || "") + "/version", { cache: "no-store" })
              .then(function (response) { return response.text(); })
              .then(function (current) {
                current = current.trim();
                if (current !== version) {
                  if (!base) { window.location.reload(); return; }
                  return refresh();
                }
              })
              .catch(function () { say("The preview server is not answering. Is `hogmail preview` still running?"); })
              .then(function () { busy = false; });
          }

          bind();
          setInterval(tick, 400);
        })();

        """
}
