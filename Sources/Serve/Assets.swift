import Hummingbird

/// The style sheet and the script of every page, served by Cairn itself: the pages
/// work offline and the Content-Security-Policy allows nothing else.
enum Assets {
    static func response(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static let css = """
        :root { --ink: #1d2330; --muted: #5d6675; --line: #d9dde4; --band: #f4f6f9; --accent: #1f5fa8;
                --critical: #7a0b1e; --high: #c0392b; --medium: #d68910; --low: #2e7d32; --info: #607d8b; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
        a { color: var(--accent); text-decoration: none; }
        a:hover, a:focus { text-decoration: underline; }
        header.top { display: flex; align-items: center; gap: 24px; padding: 8px 20px; background: #17202e; color: #e8ecf2; }
        header.top a { color: #e8ecf2; }
        header.top .brand { font-weight: 700; font-size: 17px; letter-spacing: .5px; }
        header.top nav { display: flex; gap: 16px; }
        header.top nav a[aria-current="page"] { border-bottom: 2px solid #8fb8ff; }
        header.top .who { margin-left: auto; color: #aeb8c7; font-size: 13px; }
        main { padding: 16px 20px 40px; max-width: 1600px; }
        h1 { font-size: 21px; margin: 6px 0 14px; overflow-wrap: anywhere; }
        h2 { font-size: 15px; margin: 18px 0 8px; }
        .cards { display: flex; flex-wrap: wrap; gap: 12px; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 180px; background: var(--band); }
        .card h2 { margin: 2px 0 6px; font-size: 13px; color: var(--muted); }
        .counts { list-style: none; margin: 0; padding: 0; }
        .counts li { display: flex; justify-content: space-between; gap: 16px; }
        .big { font-size: 26px; margin: 4px 0; font-weight: 600; }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 28px; }
        table.list { border-collapse: collapse; width: 100%; }
        table.list th, table.list td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
        table.list th { background: var(--band); font-weight: 600; white-space: nowrap; }
        table.list tr.selected td { background: #e6f0ff; }
        table.list tbody tr:hover td { background: #f7f9fc; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        td.num { white-space: nowrap; }
        .time { white-space: nowrap; font-variant-numeric: tabular-nums; }
        .rule, table.list td.host { white-space: nowrap; overflow-wrap: normal; }
        td.title { overflow-wrap: anywhere; min-width: 220px; }
        .value, .host, .file, .rule, .command { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
        .sha { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
        .hint { color: var(--muted); font-size: 12.5px; }
        .empty { color: var(--muted); font-style: italic; }
        .problem { color: #9b1c1c; background: #fdeeee; border-left: 3px solid #c0392b; padding: 4px 8px; }
        .ok { color: #1b5e20; background: #eaf6ec; border-left: 3px solid #2e7d32; padding: 4px 8px; }
        .sev { display: inline-block; min-width: 58px; text-align: center; border-radius: 3px; padding: 0 6px; color: #fff; font-size: 12px; font-weight: 600; }
        a.sev { color: #fff; }
        .sev-critical { background: var(--critical); } .sev-high { background: var(--high); } .sev-medium { background: var(--medium); }
        .sev-low { background: var(--low); } .sev-info { background: var(--info); }
        .status { font-size: 12px; border: 1px solid var(--line); border-radius: 3px; padding: 0 5px; }
        .status-new { border-color: #1f5fa8; color: #1f5fa8; } .status-investigating { border-color: #d68910; color: #8a5a00; }
        .status-escalated { border-color: #c0392b; color: #9b1c1c; } .status-closed { color: var(--muted); }
        .source-failed { color: #9b1c1c; font-weight: 600; } .source-reading { color: #8a5a00; }
        form.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; padding: 10px; background: var(--band); border: 1px solid var(--line); border-radius: 6px; }
        form.filters label, form.triage label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
        input, select, textarea, button { font: inherit; }
        input, select, textarea { border: 1px solid #b9c0cc; border-radius: 4px; padding: 3px 6px; color: var(--ink); }
        button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: 5px 12px; cursor: pointer; }
        button:focus, a:focus, input:focus, select:focus, textarea:focus { outline: 2px solid #8fb8ff; outline-offset: 1px; }
        form.triage { display: flex; flex-direction: column; gap: 8px; max-width: 520px; }
        form.export { margin: 0; }
        form.upload { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: end; padding: 10px; background: var(--band); border: 1px solid var(--line); border-radius: 6px; margin-bottom: 12px; }
        .paging { display: flex; flex-wrap: wrap; gap: 14px; align-items: baseline; }
        .actions { margin: 8px 0; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0 0 12px; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        ol.history { padding-left: 20px; } ol.history li { margin-bottom: 6px; }
        .note { white-space: pre-wrap; overflow-wrap: anywhere; }
        table.context td.line { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; white-space: pre-wrap; overflow-wrap: anywhere; }
        table.context tr.sighted td { background: #fff4d6; font-weight: 600; }
        pre.report { background: var(--band); border: 1px solid var(--line); padding: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
        ul.files { margin: 4px 0; padding-left: 18px; }
        a.more { font-weight: 400; font-size: 13px; margin-left: 8px; }
        svg.chart, svg.timeline { width: 100%; height: auto; max-width: 1200px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
        svg .bar { fill: #4a7fc1; } svg .bar:hover { fill: #1f5fa8; }
        svg .axis { stroke: #8a93a3; stroke-width: 1; }
        svg .lane-line { stroke: #e3e7ee; stroke-width: 1; }
        svg .mark { fill: #c0392b; fill-opacity: .75; } svg .mark:hover { fill: #7a0b1e; }
        svg text { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: #4a5261; }
        """

    /// Keyboard navigation of the incident list (j/k or arrows move, Enter or o opens, x
    /// selects for export, / goes to the filters), the select-all box, and filters that
    /// apply when a select changes. No page works less without it.
    static let script = """
        "use strict";
        (function () {
          var table = document.querySelector("table[data-keyboard=rows]");
          var rows = table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]")) : [];
          var current = -1;
          function select(index) {
            if (rows.length === 0) { return; }
            if (current >= 0) { rows[current].classList.remove("selected"); }
            current = Math.max(0, Math.min(rows.length - 1, index));
            rows[current].classList.add("selected");
            rows[current].scrollIntoView({ block: "nearest" });
          }
          document.addEventListener("keydown", function (event) {
            var target = event.target;
            var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
            if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
            if (event.key === "j" || event.key === "ArrowDown") { select(current + 1); event.preventDefault(); }
            else if (event.key === "k" || event.key === "ArrowUp") { select(current - 1); event.preventDefault(); }
            else if ((event.key === "Enter" || event.key === "o") && current >= 0) {
              window.location.href = rows[current].getAttribute("data-href");
            } else if (event.key === "x" && current >= 0) {
              var box = rows[current].querySelector("input[type=checkbox]");
              if (box) { box.checked = !box.checked; }
            } else if (event.key === "/") {
              var search = document.getElementById("filter-indicator");
              if (search) { search.focus(); event.preventDefault(); }
            }
          });
          var all = document.querySelector("input.select-all");
          if (all) {
            all.addEventListener("change", function () {
              rows.forEach(function (row) {
                var box = row.querySelector("input[type=checkbox]");
                if (box) { box.checked = all.checked; }
              });
            });
          }
          var filters = document.getElementById("filters");
          if (filters) {
            Array.prototype.forEach.call(filters.querySelectorAll("select"), function (choice) {
              choice.addEventListener("change", function () { filters.submit(); });
            });
          }

          // Uploads: each file is sent as the body of its own POST, then the table follows
          // the server's events. Names come from the evidence: set as text, never as HTML.
          var upload = document.getElementById("upload");
          var jobs = document.getElementById("upload-jobs");
          function cell(row, text, className) {
            var td = document.createElement("td");
            if (className) { td.className = className; }
            td.textContent = text;
            row.appendChild(td);
            return td;
          }
          function show(list) {
            while (jobs.firstChild) { jobs.removeChild(jobs.firstChild); }
            list.slice().reverse().forEach(function (job) {
              var row = document.createElement("tr");
              row.setAttribute("data-state", job.state);
              cell(row, String(job.id), "num");
              var file = cell(row, "", "");
              var name = document.createElement("span");
              name.className = "file";
              name.textContent = job.name;
              file.appendChild(name);
              file.appendChild(document.createElement("br"));
              var sha = document.createElement("span");
              sha.className = "sha";
              sha.textContent = "sha256:" + job.sha256;
              file.appendChild(sha);
              cell(row, job.state, "state");
              var progress = cell(row, job.progress, "progress");
              job.problems.forEach(function (problem) {
                progress.appendChild(document.createElement("br"));
                var line = document.createElement("span");
                line.className = "problem";
                line.textContent = problem;
                progress.appendChild(line);
              });
              cell(row, job.analyst, "");
              jobs.appendChild(row);
            });
          }
          if (jobs && window.EventSource) {
            var events = new EventSource("/upload/events");
            events.addEventListener("uploads", function (event) { show(JSON.parse(event.data)); });
          }
          if (upload) {
            upload.addEventListener("submit", function (event) {
              event.preventDefault();
              var files = Array.prototype.slice.call(document.getElementById("upload-files").files);
              var token = upload.getAttribute("data-csrf");
              files.reduce(function (previous, file) {
                return previous.then(function () {
                  return fetch("/upload", {
                    method: "POST", body: file, credentials: "same-origin",
                    headers: { "X-CSRF-Token": token, "X-File-Name": encodeURIComponent(file.name),
                               "Content-Type": "application/octet-stream" }
                  }).then(function (response) {
                    if (!response.ok) {
                      return response.text().then(function (text) {
                        var row = document.createElement("tr");
                        cell(row, "", "num");
                        cell(row, file.name, "file");
                        cell(row, "refused", "state");
                        cell(row, response.status + " " + response.statusText, "problem");
                        jobs.insertBefore(row, jobs.firstChild);
                      });
                    }
                  });
                });
              }, Promise.resolve());
            });
          }
        })();
        """
}
