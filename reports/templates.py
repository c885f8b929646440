"""Page bodies (Jinja2, autoescaped by :mod:`reports.html`). Kept in Python so an
installed package carries them without package-data configuration."""

REFERRAL = """
<h1>Referral <code>{{ r.referral_id }}</code></h1>
<p><span class="tier tier-{{ s.tier }}">{{ s.tier }}</span>
 &nbsp;priority <strong>{{ s.priority|num(1) }}</strong> / 100
 &nbsp;<span class="muted">advisory: a reviewer confirms or overrides every score</span></p>
{% if s.degraded %}
<p class="bad">Scored by the safety rules alone (no model was available): the probabilities
below are base rates, not an estimate for this referral.</p>
{% endif %}
{% if r.replayed %}
<p class="note">Replayed from the inference log: this is the score, reasons and model version
shown to reviewers at {{ s.scored_at|when }}{% if r.later_scores %}; it has been re-scored
{{ r.later_scores }} time(s) since{% endif %}.</p>
{% endif %}

<h2>The referral</h2>
<table>
<tr><th>Received</th><td>{{ r.received_at|when }}</td></tr>
<tr><th>Source</th><td>{{ r.source }}{% if r.source_priority %} (source's priority
 code: <code>{{ r.source_priority }}</code>){% endif %}</td></tr>
<tr><th>Incident type</th><td>{{ r.incident_type }}</td></tr>
<tr><th>Platform</th><td>{{ r.platform or "not reported" }}</td></tr>
<tr><th>Where</th><td>{{ r.channel }}</td></tr>
<tr><th>Reporter escalated</th><td>{{ "yes" if r.escalated else "no" }}</td></tr>
<tr><th>Location</th><td>{{ r.location or "not reported" }}</td></tr>
</table>

<h2>Estimates</h2>
<table>
<tr><th>Urgency</th>{% for k, v in s.urgency.items() %}<td>{{ k }} <strong>{{ v|pct }}</strong></td>{% endfor %}</tr>
<tr><th>Viability</th>{% for k, v in s.viability.items() %}<td>{{ k }} <strong>{{ v|pct }}</strong></td>{% endfor %}</tr>
</table>
<p class="muted">Calibrated probabilities: of referrals given 30% for "immediate", about 3 in
10 were judged immediate.</p>

<h2>Safety rules</h2>
{% if rules %}
<ul>{% for name, why, floor, raised in rules %}<li><strong>{{ name }}</strong> fired: {{ why }}.
The tier is at least {{ floor }}{% if raised %}: <strong>this rule raised it</strong> above
the model's own call{% else %}; the model had already placed it there{% endif %}.</li>{% endfor %}</ul>
{% else %}<p>No safety rule fired.</p>{% endif %}

<h2>Data preservation</h2>
{% if s.retention_deadline %}
<p>Provider data may be deleted after <strong>{{ s.retention_deadline|when }}</strong>
{% if days_left >= 0 %}({{ days_left|num(1) }} days after this score was made).
{% else %}<strong>(already {{ (-days_left)|num(1) }} days past when this score was made).</strong>{% endif %}</p>
{% else %}<p>No statutory preservation deadline is known for this source.</p>{% endif %}

<h2>Why it was ranked here</h2>
{% for head, items in reasons %}
<h3>{{ head }}</h3>
<ol>{% for x in items %}<li>{{ x.text }} <span class="muted">({{ "%+.2f"|format(x.contribution) }})</span></li>{% endfor %}</ol>
{% else %}<p>No reasons were recorded with this score.</p>{% endfor %}
{% if chart %}<p><img class="chart" alt="Contribution of each top reason" src="{{ chart }}"></p>{% endif %}

<h2>Case and proposed route</h2>
{% if s.case_id %}<p>Case <code>{{ s.case_id }}</code> as known when it was scored (referrals
that share its identifiers; the reviewer page shows the case as it stands now).</p>
{% else %}<p>No case recorded with this score.</p>{% endif %}
{% if s.route %}<p>Proposed police of jurisdiction: <strong>{{ s.route.destination }}</strong>
({{ s.route.level }}, confidence {{ "%.2f"|format(s.route.confidence) }}). A proposal only:
the reviewer confirms or changes it with the package decision.</p>
{% if s.route.evidence %}<ul>{% for e in s.route.evidence %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
{% else %}<p>No route recorded with this score.</p>{% endif %}

<h2>Related earlier referrals</h2>
{% if r.related %}
<table><tr><th>Referral</th><th>Received</th><th>Shares</th><th>Outcome</th></tr>
{% for x in r.related %}<tr><td><code>{{ x.referral_id }}</code></td><td>{{ x.received_at|when }}</td>
<td>{{ x.shared|join(", ") }}</td><td>{{ x.outcome or "not decided then" }}</td></tr>{% endfor %}
</table>
<p class="muted">Identifiers are shown as the first characters of their pseudonyms (keyed
hashes), never as values.</p>
{% else %}<p>None found.</p>{% endif %}

{% if r.decisions %}
<h2>Decisions</h2>
<table><tr><th>When</th><th>Decision</th><th>Tier</th><th>Viability</th><th>Model</th></tr>
{% for d in r.decisions %}<tr><td>{{ d.decided_at|when }}</td><td>{{ d.decision }}</td><td>{{ d.tier }}</td>
<td>{{ d.viability }}</td><td>{{ d.model_version }}</td></tr>{% endfor %}</table>
{% endif %}

<h2>Provenance</h2>
<p>Model version <code>{{ s.model_version }}</code>, scored {{ s.scored_at|when }}.
This page shows metadata only: no images, chat or narrative text.</p>
"""

INDEX = """
<h1>{{ title }}</h1>
<p class="muted">{{ rows|length }} referrals, highest priority first. Advisory: every score
needs a reviewer's confirmation.</p>
<table><tr><th>Referral</th><th>Tier</th><th>Priority</th><th>Received</th><th>Model</th></tr>
{% for x in rows %}<tr><td><a href="{{ x.href }}">{{ x.referral_id }}</a></td>
<td><span class="tier tier-{{ x.tier }}">{{ x.tier }}</span></td><td class="num">{{ x.priority|num(1) }}</td>
<td>{{ x.received_at|when }}</td><td>{{ x.model_version }}</td></tr>{% endfor %}
</table>
"""

DRIFT = """
<h1>Drift report</h1>
<p class="muted">Generated {{ d.generated_at }}. Reference: {{ d.reference.label }}
({{ d.reference.rows }} referrals, {{ d.reference.days }} days). Current: {{ d.current.label }}
({{ d.current.rows }} referrals, {{ d.current.days }} days).</p>
{% if d.drift_detected %}
<p class="bad"><strong>Drift detected</strong> in: {% for sig, names in d.flagged.items() %}
{{ sig }} ({{ names|join(", ") }}){{ "; " if not loop.last }}{% endfor %}.</p>
{% else %}<p class="ok"><strong>No drift detected.</strong></p>{% endif %}
<p>Rule: a check is flagged when its p-value is below {{ d.rule.alpha }} / {{ d.rule.m }}
= {{ "%.2g"|format(d.rule.alpha_per_check) }} (Bonferroni over the {{ d.rule.m }} checks)
<em>and</em> its effect size reaches the floor ({% for k, v in d.rule.floors.items() %}{{ k }}
{{ v }}{{ ", " if not loop.last }}{% endfor %}). History features are shown, never flagged.
See <code>docs/drift.md</code>.</p>
{% if evidently %}<p>Per-column distributions: <a href="{{ evidently }}">Evidently report</a>.</p>{% endif %}
{% for n in d.reference.notes + d.current.notes %}<p class="note">{{ n }}</p>{% endfor %}

{% for title, rows in sections %}
<h2>{{ title }}</h2>
{% if rows %}
<table><tr><th>Check</th><th>Reference</th><th>Current</th><th>Test</th><th>p-value</th>
<th>Effect</th><th>Floor</th><th>Flagged</th></tr>
{% for c in rows %}<tr><td>{{ c.name }}{% if c.note %}<br><span class="muted">{{ c.note }}</span>{% endif %}</td>
<td class="num">{{ c.reference|num(4) }}</td><td class="num">{{ c.current|num(4) }}</td><td>{{ c.test }}</td>
<td class="num">{{ "%.2g"|format(c.p_value) }}</td><td class="num">{{ c.effect_name }} {{ c.effect|num(3) }}</td>
<td class="num">{{ c.floor }}</td><td>{{ "YES" if c.flagged else ("(history)" if c.signal == "history" and c.significant and c.large else "") }}</td></tr>{% endfor %}
</table>
{% else %}<p class="muted">Nothing to check.</p>{% endif %}
{% endfor %}
{% if d.not_tested %}<p class="muted">Not tested (fewer than {{ d.rule.min_rows }} values in a
window): {{ d.not_tested|join(", ") }}.</p>{% endif %}
"""
