/* obsarchive web interface: the small behaviours htmx does not cover.
 *
 * - the selection basket (frame ids only, kept in sessionStorage so it survives paging and
 *   reloads in this tab; never any token or data);
 * - the name resolver button (GET /resolve/?name=) filling RA and Dec;
 * - the FITS header filter on the frame page;
 * - the link between the sky plot's footprints and the table rows.
 *
 * Loaded before Alpine (both deferred), so the components exist when Alpine starts.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var SELECTION_KEY = "obsarchive.selection";

  function readSelection() {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(SELECTION_KEY) || "[]");
      return Array.isArray(stored) ? stored.filter(function (id) { return Number.isInteger(id) && id > 0; }) : [];
    } catch (error) {
      return [];
    }
  }

  function formatDegrees(value) {
    return String(Math.round(value * 1e6) / 1e6);
  }

  document.addEventListener("alpine:init", function () {
    var Alpine = window.Alpine;

    Alpine.store("selection", {
      ids: readSelection(),
      get count() { return this.ids.length; },
      has: function (id) { return this.ids.indexOf(id) !== -1; },
      hasAll: function (ids) {
        var self = this;
        return ids.length > 0 && ids.every(function (id) { return self.has(id); });
      },
      save: function () {
        try { window.sessionStorage.setItem(SELECTION_KEY, JSON.stringify(this.ids)); } catch (error) { /* private mode */ }
      },
      toggle: function (id, on) {
        var present = this.has(id);
        if (on && !present) { this.ids = this.ids.concat([id]); }
        if (!on && present) { this.ids = this.ids.filter(function (x) { return x !== id; }); }
        this.save();
      },
      setMany: function (ids, on) {
        var self = this;
        if (on) {
          this.ids = this.ids.concat(ids.filter(function (id) { return !self.has(id); }));
        } else {
          this.ids = this.ids.filter(function (id) { return ids.indexOf(id) === -1; });
        }
        this.save();
      },
      clear: function () { this.ids = []; this.save(); }
    });

    Alpine.data("resolver", function () {
      return {
        status: "",
        failed: false,
        busy: false,
        lookup: function () {
          var self = this;
          var name = this.$refs.name.value.trim();
          if (!name) { this.failed = true; this.status = "Type a target name first."; return; }
          this.busy = true; this.failed = false; this.status = "Resolving " + name + "…";
          var url = (this.$root.dataset.resolveUrl || "/resolve/") + "?name=" + encodeURIComponent(name);
          fetch(url, {
            headers: { "Accept": "application/json" }, credentials: "same-origin"
          }).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (body) {
              return { ok: response.ok, status: response.status, body: body };
            });
          }).then(function (answer) {
            self.busy = false;
            if (!answer.ok) {
              // Not found or resolver down: the coordinates already typed stay as they are.
              self.failed = true;
              self.status = (answer.body && answer.body.detail) || ("The resolver failed (" + answer.status + ").");
              return;
            }
            var found = answer.body;
            self.$refs.ra.value = formatDegrees(found.ra);
            self.$refs.dec.value = formatDegrees(found.dec);
            if (!self.$refs.radius.value.trim()) { self.$refs.radius.value = "0.1"; }
            var sources = { local: "the local catalogue", archive: "archived frames", remote: "the remote resolver" };
            self.status = found.matched + " (" + (sources[found.source] || found.source) + "): RA " +
              found.ra_sexagesimal + " Dec " + found.dec_sexagesimal + " = " +
              formatDegrees(found.ra) + "°, " + formatDegrees(found.dec) + "°. Press Search.";
          }).catch(function () {
            self.busy = false; self.failed = true;
            self.status = "The resolver could not be reached.";
          });
        }
      };
    });

    Alpine.data("headerFilter", function () {
      return {
        query: "",
        init: function () {
          var input = this.$el.querySelector("input[type=search]");
          this.query = input ? input.value : "";
        },
        matches: function (row) {
          var needle = this.query.trim().toLowerCase();
          if (!needle) { return true; }
          return row.textContent.toLowerCase().indexOf(needle) !== -1;
        },
        countText: function () {
          var self = this;
          var rows = Array.prototype.slice.call(this.$root.querySelectorAll("tr[data-key]"));
          var shown = rows.filter(function (row) { return self.matches(row); }).length;
          return shown + " of " + rows.length + " cards";
        }
      };
    });

    // Footprints follow the selection.
    Alpine.effect(function () {
      var ids = Alpine.store("selection").ids;
      markSelected(ids);
    });
  });

  function markSelected(ids) {
    document.querySelectorAll(".footprint[data-frame-id]").forEach(function (shape) {
      shape.classList.toggle("selected", ids.indexOf(Number(shape.dataset.frameId)) !== -1);
    });
  }

  // Sky plot <-> table: hovering or focusing either highlights both.
  function highlight(id, on) {
    document.querySelectorAll('[data-frame-id="' + id + '"]').forEach(function (el) {
      el.classList.toggle("highlight", on);
    });
  }
  ["mouseover", "focusin"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var target = event.target.closest && event.target.closest("[data-frame-id]");
      if (target) { highlight(target.dataset.frameId, true); }
    });
  });
  ["mouseout", "focusout"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var target = event.target.closest && event.target.closest("[data-frame-id]");
      if (target) { highlight(target.dataset.frameId, false); }
    });
  });
  // Selecting a footprint scrolls to its row and moves focus there (no page jump via #hash).
  document.addEventListener("click", function (event) {
    var shape = event.target.closest && event.target.closest(".footprint[data-frame-id]");
    if (!shape) { return; }
    var row = document.getElementById("frame-" + shape.dataset.frameId);
    if (!row) { return; }
    event.preventDefault();
    row.scrollIntoView({ block: "center" });
    var link = row.querySelector("a");
    if (link) { link.focus({ preventScroll: true }); }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (window.Alpine) { markSelected(window.Alpine.store("selection").ids); }
  });
})();
