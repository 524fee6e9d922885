"""The pure decision core: no Faust, no Kafka, no environment, no I/O (but for reading the
jurisdiction table once per process, in jurisdictions.py). Records in, verdicts out.

Public API (imported from the modules, so that `streams.settings` loading `config` stays cheap):

    records.parse_record(obj, *, kind=None) -> Record         raises errors.InvalidRecord
    state.apply(state, record, config) -> RecipientState      consent and opt-out records
    state.Agreements().apply(partner_record) -> Agreements    partner agreements
    state.encode_state / decode_state                         table values (bytes)
    engine.decide(intent, state, agreements, config, *, now=None, recipient_ref=None)
                                                              -> Decision(verdict, new_state)
    engine.invalid_verdict(intent_id, error, config, *, now=None) -> Verdict
    records.violation_for(verdict, intent_or_raw) -> Violation | None
    Verdict.to_dict(), Violation.to_dict()                    JSON-ready
    replay.replay_records(lines, config) / replay_objects(records, config)
    jurisdictions.table_for(config) -> JurisdictionTable      the jurisdiction table in force
                                                              (raises TableError; call at start)
    explain.explain(intent, state, agreements, config, *, provenance=None) -> Explanation

Modules: config (parameters), records (typed records, validation), addresses (normalization),
times (instants), state (per-address state, agreements, encoding), context (facts of one
decision), rules/ (one rule per module, in precedence order; parameter rules for J3 and J4),
content (promotional content and opt-out wording), reasons (codes, precedence, severity), engine
(decide), replay (in memory), jurisdictions (the table of jurisdiction parameters, with
jurisdictions.toml), recipient (local time and state of a recipient), findings and explain (the
opt-in explanation path).
"""
