import Mustache

/// The pages' HTML, as Mustache templates: `{{name}}` inserts a value HTML-escaped
/// (`& < > " '`), in text and in quoted attributes alike. The templates never use the
/// unescaped forms (`{{{…}}}`, `{{&…}}`); a test checks that they do not. Every value
/// that came from evidence therefore reaches the browser as text.
enum Templates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in all {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    static func render(_ view: Any, _ name: String) -> String {
        guard let html = library.render(view, withTemplate: name) else {
            preconditionFailure("no template named \(name)")
        }
        return html
    }

    static let all: [String: String] = [
        "layout": layout, "case": casePage, "incidents": incidents, "incidentTable": incidentTable,
        "incident": incident, "sources": sources, "custody": custody, "explain": explain, "login": login,
        "failure": failure, "chart": chart, "timeline": timeline, "upload": upload, "sighting": sighting,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{frame.title}} · Cairn</title>
        <link rel="stylesheet" href="/static/cairn.css">
        <script src="/static/cairn.js" defer></script>
        </head>
        <body>
        <header class="top">
        <a class="brand" href="/">Cairn</a>
        <nav>
        <a href="/" {{#frame.onCase}}aria-current="page"{{/frame.onCase}}>Case</a>
        <a href="/incidents" {{#frame.onIncidents}}aria-current="page"{{/frame.onIncidents}}>Incidents</a>
        <a href="/sources" {{#frame.onSources}}aria-current="page"{{/frame.onSources}}>Sources</a>
        <a href="/custody" {{#frame.onCustody}}aria-current="page"{{/frame.onCustody}}>Custody</a>
        <a href="/explain" {{#frame.onExplain}}aria-current="page"{{/frame.onExplain}}>Explain</a>
        <a href="/upload" {{#frame.onUpload}}aria-current="page"{{/frame.onUpload}}>Upload</a>
        </nav>
        <span class="who">{{#frame.analyst}}<span title="triage is recorded under this name">{{frame.analyst}}</span> · {{/frame.analyst}}<span title="the case">{{frame.caseName}}</span></span>
        </header>
        <main>
        {{$body}}{{/body}}
        </main>
        </body>
        </html>
        """

    static let casePage = """
        {{<layout}}{{$body}}
        <h1>Case {{frame.caseName}}</h1>
        <section class="cards">
        <div class="card"><h2>Incidents by severity</h2><ul class="counts">{{#severities}}<li><a class="sev sev-{{name}}" href="/incidents?severity={{name}}">{{name}}</a> <b>{{count}}</b></li>{{/severities}}</ul></div>
        <div class="card"><h2>By status</h2><ul class="counts">{{#statuses}}<li><a href="/incidents?status={{name}}">{{name}}</a> <b>{{count}}</b></li>{{/statuses}}</ul></div>
        <div class="card"><h2>Sources</h2><ul class="counts">{{#sourceStatuses}}<li><a href="/sources">{{name}}</a> <b>{{count}}</b></li>{{/sourceStatuses}}{{^sourceStatuses}}<li>none yet</li>{{/sourceStatuses}}</ul></div>
        <div class="card"><h2>Sightings</h2><p class="big">{{sightingCount}}</p></div>
        </section>
        <section>
        <h2>Sightings over time (UTC)</h2>
        {{#chart}}{{>chart}}{{/chart}}{{^chart}}<p class="empty">No sightings.</p>{{/chart}}
        </section>
        <div class="columns">
        <section>
        <h2>Top indicators</h2>
        {{#hasTopIndicators}}<table class="list"><thead><tr><th>Type</th><th>Indicator</th><th>Rule</th><th class="num">Sightings</th></tr></thead><tbody>
        {{/hasTopIndicators}}{{#topIndicators}}<tr><td>{{type}}</td><td><a href="/incidents?indicator={{valueQuery}}" class="value">{{value}}</a></td><td class="rule">{{rule}}</td><td class="num">{{sightings}}</td></tr>
        {{/topIndicators}}{{#hasTopIndicators}}</tbody></table>{{/hasTopIndicators}}{{^topIndicators}}<p class="empty">No indicator was sighted.</p>{{/topIndicators}}
        </section>
        <section>
        <h2>Sources <a class="more" href="/sources">all</a></h2>
        <table class="list"><tbody>
        {{#sources}}<tr><td><span class="file" title="{{path}}">{{name}}</span>{{#error}}<br><span class="problem">{{error}}</span>{{/error}}</td><td>{{kind}}</td><td><span class="source-{{status}}">{{status}}</span></td></tr>{{/sources}}
        {{^sources}}<tr><td class="empty">No sources yet.</td></tr>{{/sources}}
        </tbody></table>
        {{#moreSources}}<p class="hint">and {{moreSources}} more</p>{{/moreSources}}
        <h2>Anomalies and notes</h2>
        {{#hasAnomalies}}<table class="list"><thead><tr><th>Anomaly</th><th class="num">Count</th></tr></thead><tbody>{{/hasAnomalies}}{{#anomalies}}<tr><td>{{name}}</td><td class="num">{{count}}</td></tr>{{/anomalies}}{{#hasAnomalies}}</tbody></table>{{/hasAnomalies}}
        {{^anomalies}}<p class="empty">No anomalies in the sources.</p>{{/anomalies}}
        <ul class="notes">{{#notes}}<li>{{.}}</li>{{/notes}}</ul>
        </section>
        </div>
        <section>
        <h2>Newest incidents <a class="more" href="/incidents">all {{incidentTotal}}</a></h2>
        {{>incidentTable}}
        </section>
        {{/body}}{{/layout}}
        """

    static let incidentTable = """
        <form method="post" action="/export" class="export">
        <input type="hidden" name="csrf_token" value="{{frame.csrfToken}}">
        <table class="list incidents" data-keyboard="rows">
        <thead><tr><th><input type="checkbox" class="select-all" title="select every incident on this page" aria-label="select all"></th>
        {{#columns}}<th{{#numeric}} class="num"{{/numeric}}>{{#href}}<a href="{{href}}" {{#current}}aria-sort="{{current}}"{{/current}}>{{label}}{{#current}} {{arrow}}{{/current}}</a>{{/href}}{{^href}}{{label}}{{/href}}</th>{{/columns}}</tr></thead>
        <tbody>
        {{#rows}}<tr data-href="/incidents/{{id}}"><td><input type="checkbox" name="ids[]" value="{{id}}" aria-label="select incident {{id}}"></td><td class="num"><a href="/incidents/{{id}}">{{id}}</a></td><td><span class="sev sev-{{severity}}">{{severity}}</span></td><td><span class="status status-{{status}}">{{status}}</span></td><td class="host">{{host}}</td><td class="time">{{firstSeen}}</td><td class="time">{{lastSeen}}</td><td class="num">{{sightings}}</td><td class="title"><a href="/incidents/{{id}}">{{title}}</a></td><td>{{assignee}}</td></tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="10" class="empty">No incidents match.</td></tr>{{/rows}}
        </tbody></table>
        <p class="actions"><button type="submit" class="export-button">Export selected</button> <span class="hint">an evidence package (ZIP of the BagIt directory <code>cairn verify</code> checks)</span></p>
        </form>
        """

    static let incidents = """
        {{<layout}}{{$body}}
        <h1>Incidents</h1>
        <form method="get" action="/incidents" class="filters" id="filters">
        <label>Severity at least <select name="severity"><option value="">any</option>{{#severityOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/severityOptions}}</select></label>
        <label>Status <select name="status"><option value="">any</option>{{#statusOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/statusOptions}}</select></label>
        <label>Host <input name="host" value="{{filter.host}}" size="16"></label>
        <label>Indicator or value <input name="indicator" value="{{filter.indicator}}" size="20" id="filter-indicator"></label>
        <label>Source <input name="source" value="{{filter.source}}" size="16" title="path, file name or SHA-256"></label>
        <label>Since <input name="since" value="{{filter.since}}" size="20" placeholder="2024-03-01T00:00:00Z"></label>
        <label>Until <input name="until" value="{{filter.until}}" size="20"></label>
        <input type="hidden" name="sort" value="{{filter.sort}}"><input type="hidden" name="dir" value="{{filter.dir}}">
        <button type="submit">Filter</button> <a href="/incidents">clear</a>
        </form>
        {{#problems}}<p class="problem">{{.}}</p>{{/problems}}
        <p class="paging">{{#hasIncidents}}Incidents {{first}}–{{last}} of {{total}}.{{/hasIncidents}}{{^hasIncidents}}No incidents.{{/hasIncidents}}
        {{#previous}}<a href="{{previous}}" rel="prev">← previous</a>{{/previous}} {{#next}}<a href="{{next}}" rel="next">next →</a>{{/next}}
        <a href="{{csv}}" class="download">Download as CSV</a> <a href="{{json}}" class="download">JSON</a>
        <span class="hint">keys: j/k move, Enter opens, x selects, / searches</span></p>
        {{>incidentTable}}
        {{/body}}{{/layout}}
        """

    static let incident = """
        {{<layout}}{{$body}}
        <h1><span class="sev sev-{{incident.severity}}">{{incident.severity}}</span> Incident {{incident.id}}: {{incident.title}}</h1>
        {{#mergedInto}}<p class="problem">Merged into <a href="/incidents/{{mergedInto}}">incident {{mergedInto}}</a> by a later run.</p>{{/mergedInto}}
        <dl class="facts">
        <dt>Host</dt><dd class="host"><a href="/incidents?host={{hostQuery}}">{{incident.host}}</a></dd>
        <dt>Period</dt><dd>{{incident.firstSeen}} – {{incident.lastSeen}}</dd>
        <dt>Severity</dt><dd>{{incident.severity}}, confidence {{incident.confidence}}</dd>
        {{#incident.rule}}<dt>Rule</dt><dd>{{incident.rule}}</dd>{{/incident.rule}}
        <dt>Status</dt><dd><span class="status status-{{incident.status}}">{{incident.status}}</span>{{#incident.assignee}}, assigned to {{incident.assignee}}{{/incident.assignee}}</dd>
        <dt>Sightings</dt><dd>{{incident.sightings}}{{#lineCount}}, and {{lineCount}} log lines a rule counted{{/lineCount}}</dd>
        <dt>Why</dt><dd class="why">{{explanation}}</dd>
        </dl>
        <section>
        <h2>Timeline</h2>
        {{#timeline}}{{>timeline}}{{/timeline}}{{^timeline}}<p class="empty">No sightings to draw: the rule's log lines are listed below.</p>{{/timeline}}
        </section>
        <section>
        <h2>Sightings {{#sightingPage.shown}}<span class="hint">{{sightingPage.first}}–{{sightingPage.last}} of {{incident.sightings}}</span>{{/sightingPage.shown}}</h2>
        {{#sightingPage.previous}}<a href="{{sightingPage.previous}}" rel="prev">← earlier</a>{{/sightingPage.previous}} {{#sightingPage.next}}<a href="{{sightingPage.next}}" rel="next">later →</a>{{/sightingPage.next}}
        <table class="list sightings">
        <thead><tr><th>Time (UTC)</th><th>Where</th><th>Observed</th><th>Indicator</th><th>Rule</th><th>Found in</th></tr></thead>
        <tbody>
        {{#sightings}}<tr id="sighting-{{id}}"><td class="time">{{time}}{{#lastTime}}<br><span class="hint">{{packets}} packets until {{lastTime}}</span>{{/lastTime}}</td><td>{{field}}</td><td class="value">{{observed}}{{#derivedFrom}}<br><span class="hint">via DNS: {{derivedFrom}}</span>{{/derivedFrom}}{{#unverified}}<br><span class="problem">unverified line (its gzip member was never checked)</span>{{/unverified}}</td><td><span class="hint">{{indicatorType}}</span> <a class="value" href="/explain?value={{indicatorQuery}}">{{indicatorValue}}</a>{{#feed}}<br><span class="hint">feed {{feed}}</span>{{/feed}}</td><td class="rule">{{rule}}</td><td><span class="file" title="{{sourcePath}}">{{sourceName}}</span> <a href="/sightings/{{id}}" title="the source around this sighting">{{locator}}</a><br><span class="sha" title="SHA-256 of the source file as ingested">sha256:{{sourceSHA256}}</span></td></tr>
        {{/sightings}}
        {{^sightings}}<tr><td colspan="6" class="empty">No sightings.</td></tr>{{/sightings}}
        </tbody></table>
        </section>
        {{#hasLines}}<section><h2>Log lines the rule counted</h2><table class="list"><thead><tr><th>Time (UTC)</th><th>Host</th><th>Log source</th><th>Base rules</th><th>Found in</th></tr></thead><tbody>{{/hasLines}}
        {{#lines}}<tr><td class="time">{{time}}</td><td class="host">{{host}}</td><td>{{logSource}}</td><td>{{baseRules}}</td><td><span class="file" title="{{sourcePath}}">{{sourceName}}</span> line {{line}}</td></tr>{{/lines}}
        {{#hasLines}}</tbody></table></section>{{/hasLines}}
        <div class="columns">
        <section>
        <h2>Triage history</h2>
        <ol class="history">{{#history}}<li><span class="time">{{recordedAt}}</span> <b>{{user}}</b> <span class="status status-{{status}}">{{status}}</span>{{#assignee}} assignee: {{assignee}}{{/assignee}}{{#note}}<br><span class="note">{{note}}</span>{{/note}}</li>{{/history}}</ol>
        {{^history}}<p class="empty">Not triaged yet: status new.</p>{{/history}}
        </section>
        <section>
        <h2>Triage</h2>
        {{^mergedInto}}<form method="post" action="/incidents/{{incident.id}}/triage" class="triage">
        <input type="hidden" name="csrf_token" value="{{frame.csrfToken}}">
        <label>Status <select name="status">{{#statusOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/statusOptions}}</select></label>
        <label>Assignee <input name="assignee" value="{{incident.assignee}}"></label>
        <label>Note <textarea name="note" rows="3"></textarea></label>
        <button type="submit">Record</button> <span class="hint">recorded as {{frame.analyst}}; nothing is overwritten</span>
        </form>
        <form method="post" action="/export" class="export"><input type="hidden" name="csrf_token" value="{{frame.csrfToken}}"><input type="hidden" name="ids[]" value="{{incident.id}}"><button type="submit" class="export-button">Export this incident</button></form>{{/mergedInto}}
        </section>
        </div>
        {{/body}}{{/layout}}
        """

    static let sources = """
        {{<layout}}{{$body}}
        <h1>Sources</h1>
        <table class="list sources">
        <thead><tr><th class="num">ID</th><th>Kind</th><th>Status</th><th class="num">Packets</th><th class="num">Lines</th><th class="num">Bytes</th><th class="num">Anomalies</th><th>File</th><th>Started</th></tr></thead>
        <tbody>
        {{#rows}}<tr><td class="num">{{id}}</td><td>{{kind}}</td><td><span class="source-{{status}}">{{status}}</span></td><td class="num">{{packets}}</td><td class="num">{{lines}}</td><td class="num">{{bytes}}</td><td class="num" title="{{anomalyList}}">{{anomalies}}</td><td><span class="file">{{path}}</span><br><span class="sha">{{#sha256}}sha256:{{sha256}}{{/sha256}}</span>{{#error}}<br><span class="problem">{{error}}</span>{{/error}}{{#notes}}<br><span class="hint">{{.}}</span>{{/notes}}</td><td class="time">{{startedAt}}</td></tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="9" class="empty">No sources yet.</td></tr>{{/rows}}
        </tbody></table>
        {{/body}}{{/layout}}
        """

    static let custody = """
        {{<layout}}{{$body}}
        <h1>Custody log</h1>
        {{#verification.ok}}<p class="ok">The hash chain holds: {{verification.entryCount}} entries.</p>{{/verification.ok}}
        {{^verification.ok}}<p class="problem">The hash chain is BROKEN at entry {{verification.firstBrokenID}}: {{verification.problem}}</p>{{/verification.ok}}
        <table class="list custody">
        <thead><tr><th class="num">ID</th><th>Recorded at</th><th>User</th><th>Host</th><th>Action</th><th>Files</th><th>Hash</th><th>Command</th></tr></thead>
        <tbody>
        {{#entries}}<tr><td class="num">{{id}}</td><td class="time">{{recordedAt}}</td><td>{{user}}</td><td>{{host}}</td><td>{{action}}</td><td><details><summary>{{inputCount}} in, {{outputCount}} out</summary><ul class="files">{{#inputs}}<li>in <span class="file">{{path}}</span> <span class="sha">{{sha256}}</span> {{bytes}} bytes</li>{{/inputs}}{{#outputs}}<li>out <span class="file">{{path}}</span> <span class="sha">{{sha256}}</span> {{bytes}} bytes</li>{{/outputs}}</ul></details></td><td class="sha" title="{{entryHash}}">{{hashPrefix}}</td><td class="command">{{commandLine}}</td></tr>
        {{/entries}}
        </tbody></table>
        {{/body}}{{/layout}}
        """

    static let explain = """
        {{<layout}}{{$body}}
        <h1>Explain a value</h1>
        <form method="get" action="/explain" class="filters">
        <label>Value <input name="value" value="{{value}}" size="48" autofocus placeholder="an address, domain, URL, e-mail address, hash or JA3/JA4"></label>
        <label>At <input name="at" value="{{at}}" size="20" placeholder="2024-03-01T12:00:00Z"></label>
        <button type="submit">Explain</button>
        </form>
        {{#problems}}<p class="problem">{{.}}</p>{{/problems}}
        {{#reports}}<pre class="report">{{.}}</pre>{{/reports}}
        <p class="hint">Against the rules in {{rulePaths}}, as loaded when the server started.</p>
        {{/body}}{{/layout}}
        """

    static let upload = """
        {{<layout}}{{$body}}
        <h1>Upload captures and logs</h1>
        {{#enabled}}
        <form class="upload" id="upload" data-csrf="{{frame.csrfToken}}">
        <label>Files <input type="file" name="files" multiple id="upload-files"></label>
        <button type="submit">Upload and ingest</button>
        <span class="hint">pcap, pcapng and syslogs, plain or gzip; at most {{limit}} each. Each is stored under its SHA-256 in {{directory}}, read-only, never over another, then ingested with the server's rules.</span>
        </form>
        {{/enabled}}
        {{^enabled}}<p class="problem">Uploads are off on this server.</p>{{/enabled}}
        <table class="list uploads">
        <thead><tr><th class="num">#</th><th>File</th><th>State</th><th>Progress</th><th>By</th></tr></thead>
        <tbody id="upload-jobs">
        {{#jobs}}<tr><td class="num">{{id}}</td><td><span class="file">{{name}}</span><br><span class="sha">sha256:{{sha256}}</span></td><td>{{state}}</td><td>{{progress}}{{#problems}}<br><span class="problem">{{.}}</span>{{/problems}}</td><td>{{analyst}}</td></tr>
        {{/jobs}}
        </tbody></table>
        {{/body}}{{/layout}}
        """

    static let sighting = """
        {{<layout}}{{$body}}
        <h1>Sighting {{sighting.id}}: <span class="value">{{sighting.observed}}</span></h1>
        <dl class="facts">
        {{#incident}}<dt>Incident</dt><dd><a href="/incidents/{{incident}}">incident {{incident}}</a></dd>{{/incident}}
        <dt>Time</dt><dd>{{sighting.time}}{{#sighting.lastTime}} ({{sighting.packets}} packets until {{sighting.lastTime}}){{/sighting.lastTime}}</dd>
        <dt>Host</dt><dd class="host">{{host}}</dd>
        <dt>Where</dt><dd>{{sighting.field}}</dd>
        <dt>Indicator</dt><dd>{{sighting.indicatorType}} <a class="value" href="/explain?value={{sighting.indicatorQuery}}">{{sighting.indicatorValue}}</a>{{#sighting.feed}}, feed {{sighting.feed}}{{/sighting.feed}}</dd>
        <dt>Rule</dt><dd class="rule">{{sighting.rule}}</dd>
        {{#sighting.derivedFrom}}<dt>Via DNS</dt><dd>{{sighting.derivedFrom}}</dd>{{/sighting.derivedFrom}}
        <dt>Source</dt><dd><span class="file">{{sighting.sourcePath}}</span> {{sighting.locator}}<br><span class="sha">sha256:{{sighting.sourceSHA256}}</span></dd>
        </dl>
        {{#problems}}<p class="problem">{{.}}</p>{{/problems}}
        {{#isLine}}
        <h2>The log around it</h2>
        <table class="list context"><tbody>
        {{#lines}}<tr{{#isSighting}} class="sighted"{{/isSighting}}><td class="num">{{number}}</td><td class="line">{{text}}{{#truncated}} <span class="hint">(cut)</span>{{/truncated}}</td></tr>{{/lines}}
        </tbody></table>
        <p class="hint">Re-read from the file now; shown because its SHA-256 still equals the one recorded at ingest.</p>
        {{/isLine}}
        {{^isLine}}
        <h2>What Cairn decodes from the packet</h2>
        {{#hasDecoded}}<table class="list"><thead><tr><th>Where</th><th>Value</th></tr></thead><tbody>
        {{#decoded}}<tr><td>{{field}}</td><td class="value">{{value}}</td></tr>{{/decoded}}
        </tbody></table>
        <p class="hint">Re-read from the file now; shown because its SHA-256 still equals the one recorded at ingest.</p>{{/hasDecoded}}
        {{/isLine}}
        {{/body}}{{/layout}}
        """

    static let login = """
        {{<layout}}{{$body}}
        <h1>Sign in</h1>
        {{#problem}}<p class="problem">{{problem}}</p>{{/problem}}
        <form method="post" action="/login" class="triage">
        <label>Token <input type="password" name="token" autocomplete="current-password" autofocus size="40"></label>
        <button type="submit">Sign in</button>
        </form>
        <p class="hint">The token is a line of the server's token file; your operator gives it to you.</p>
        {{/body}}{{/layout}}
        """

    static let failure = """
        {{<layout}}{{$body}}
        <h1>{{status}}</h1>
        <p class="problem">{{message}}</p>
        <p><a href="/">Back to the case</a></p>
        {{/body}}{{/layout}}
        """

    /// A bar chart: `Chart`.
    static let chart = """
        <svg class="chart" viewBox="0 0 {{width}} {{height}}" role="img" aria-label="{{label}}">
        {{#bars}}<rect class="bar" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{tip}}</title></rect>{{/bars}}
        <line class="axis" x1="{{left}}" y1="{{baseline}}" x2="{{right}}" y2="{{baseline}}"/>
        {{#ticks}}<text class="tick" x="{{x}}" y="{{y}}" text-anchor="{{anchor}}">{{text}}</text>{{/ticks}}
        </svg>
        """

    /// An incident's sightings in time, one lane per indicator: `Timeline`.
    static let timeline = """
        <svg class="timeline" viewBox="0 0 {{width}} {{height}}" role="img" aria-label="{{label}}">
        {{#lanes}}<text class="lane" x="4" y="{{textY}}">{{name}}</text><line class="lane-line" x1="{{left}}" y1="{{y}}" x2="{{right}}" y2="{{y}}"/>{{#marks}}<a href="#sighting-{{id}}"><circle class="mark" cx="{{x}}" cy="{{y}}" r="4"><title>{{tip}}</title></circle></a>{{/marks}}
        {{/lanes}}
        <line class="axis" x1="{{left}}" y1="{{baseline}}" x2="{{right}}" y2="{{baseline}}"/>
        {{#ticks}}<text class="tick" x="{{x}}" y="{{y}}" text-anchor="{{anchor}}">{{text}}</text>{{/ticks}}
        {{#more}}<text class="tick" x="{{left}}" y="{{moreY}}">{{more}}</text>{{/more}}
        </svg>
        """
}
