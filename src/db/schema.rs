// Diesel table definitions, kept in step with migrations/ (the shape `diesel print-schema` writes).

diesel::table! {
    clinics (id) {
        id -> Uuid,
        name -> Text,
        is_system -> Bool,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Nullable<Text>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        shared_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    memberships (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        name -> Text,
        active -> Bool,
        accepted_at -> Nullable<Timestamptz>,
        client_id -> Nullable<Uuid>,
        external_id -> Nullable<Text>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    token_families (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        family_id -> Uuid,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        window_start -> Timestamptz,
        failures -> Int4,
    }
}

diesel::table! {
    idempotency_keys (owner, key) {
        owner -> Text,
        key -> Text,
        request_hash -> Bytea,
        completed -> Bool,
        response_status -> Nullable<Int2>,
        response_headers -> Nullable<Jsonb>,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    event_counters (clinic_id) {
        clinic_id -> Uuid,
        last_seq -> Int8,
    }
}

diesel::table! {
    events (id) {
        clinic_id -> Uuid,
        seq -> Nullable<Int8>,
        id -> Uuid,
        #[sql_name = "type"]
        event_type -> Text,
        occurred_at -> Timestamptz,
        data -> Jsonb,
        written -> Int8,
    }
}

diesel::table! {
    clients (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        name -> Text,
        email -> Nullable<Text>,
        timezone -> Text,
        primary_practitioner_id -> Nullable<Uuid>,
        external_id -> Nullable<Text>,
        archived_at -> Nullable<Timestamptz>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    invitations (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        membership_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

// `exercises.search` (a generated tsvector) is left out: only raw full-text SQL reads it.
diesel::table! {
    exercises (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        name -> Text,
        summary -> Nullable<Text>,
        instructions -> Array<Text>,
        category -> Text,
        body_regions -> Array<Text>,
        equipment -> Array<Text>,
        difficulty -> Int2,
        default_dosage -> Jsonb,
        cautions -> Array<Text>,
        media -> Jsonb,
        progression_of -> Nullable<Uuid>,
        archived_at -> Nullable<Timestamptz>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    routines (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    routine_items (clinic_id, routine_id, position) {
        clinic_id -> Uuid,
        routine_id -> Uuid,
        position -> Int4,
        exercise_id -> Uuid,
        sets -> Nullable<Int4>,
        reps -> Nullable<Int4>,
        hold_seconds -> Nullable<Int4>,
        duration_seconds -> Nullable<Int4>,
        rest_seconds -> Nullable<Int4>,
        side -> Text,
        notes -> Nullable<Text>,
    }
}

diesel::table! {
    assignments (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        routine_id -> Nullable<Uuid>,
        assigned_by -> Nullable<Uuid>,
        name -> Text,
        instructions -> Nullable<Text>,
        start_date -> Date,
        end_date -> Nullable<Date>,
        days_of_week -> Array<Text>,
        times_per_day -> Int2,
        status -> Text,
        ended_at -> Nullable<Timestamptz>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reminder_times -> Array<Text>,
    }
}

diesel::table! {
    assignment_items (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        assignment_id -> Uuid,
        position -> Int4,
        exercise_id -> Uuid,
        sets -> Nullable<Int4>,
        reps -> Nullable<Int4>,
        hold_seconds -> Nullable<Int4>,
        duration_seconds -> Nullable<Int4>,
        rest_seconds -> Nullable<Int4>,
        side -> Text,
        notes -> Nullable<Text>,
        removed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    assignment_pauses (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        assignment_id -> Uuid,
        paused_at -> Timestamptz,
        resumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        name -> Text,
        scopes -> Array<Text>,
        key_hash -> Bytea,
        prefix -> Text,
        last_four -> Text,
        created_by -> Nullable<Uuid>,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        created_by_membership -> Nullable<Uuid>,
        created_by_api_key -> Nullable<Uuid>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        webhook_id -> Uuid,
        event_id -> Uuid,
        event_type -> Text,
        payload -> Nullable<Jsonb>,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        last_attempt_at -> Nullable<Timestamptz>,
        redelivery_of -> Nullable<Uuid>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        delivery_id -> Uuid,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        duration_ms -> Int4,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    session_logs (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        assignment_id -> Uuid,
        performed_at -> Timestamptz,
        local_date -> Date,
        duration_seconds -> Nullable<Int4>,
        pain_before -> Nullable<Int2>,
        pain_after -> Nullable<Int2>,
        effort -> Nullable<Int2>,
        notes -> Nullable<Text>,
        logged_by -> Nullable<Uuid>,
        logged_by_role -> Text,
        flagged -> Bool,
        reviewed_at -> Nullable<Timestamptz>,
        reviewed_by -> Nullable<Uuid>,
        review_note -> Nullable<Text>,
        content_hash -> Bytea,
        deleted_at -> Nullable<Timestamptz>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    session_entries (clinic_id, session_id, position) {
        clinic_id -> Uuid,
        session_id -> Uuid,
        position -> Int4,
        assignment_item_id -> Uuid,
        side -> Nullable<Text>,
        sets_done -> Nullable<Int4>,
        reps_done -> Nullable<Int4>,
        hold_seconds -> Nullable<Int4>,
        completed -> Bool,
        pain -> Nullable<Int2>,
        notes -> Nullable<Text>,
    }
}

diesel::table! {
    session_measurements (clinic_id, session_id, position) {
        clinic_id -> Uuid,
        session_id -> Uuid,
        position -> Int4,
        client_id -> Uuid,
        kind -> Text,
        side -> Text,
        value -> Float8,
    }
}

diesel::table! {
    audit_events (clinic_id, id) {
        clinic_id -> Uuid,
        id -> Uuid,
        occurred_at -> Timestamptz,
        actor_kind -> Text,
        actor_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        action -> Text,
        resource_type -> Nullable<Text>,
        resource_id -> Nullable<Uuid>,
        client_ids -> Array<Uuid>,
        request_id -> Nullable<Uuid>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        status -> Int2,
        txid -> Int8,
    }
}

diesel::table! {
    audit_chain (clinic_id, seq) {
        clinic_id -> Uuid,
        seq -> Int8,
        event_id -> Uuid,
        hash -> Bytea,
        chained_at -> Timestamptz,
    }
}

diesel::table! {
    audit_checkpoints (clinic_id, seq) {
        clinic_id -> Uuid,
        seq -> Int8,
        hash -> Bytea,
        purged_events -> Int8,
        purged_before -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_heads (clinic_id, seq) {
        clinic_id -> Uuid,
        seq -> Int8,
        hash -> Bytea,
        published_at -> Timestamptz,
    }
}

diesel::table! {
    audit_chainer (id) {
        id -> Int2,
        below_txid -> Int8,
    }
}

diesel::table! {
    erased_activity_weekly (clinic_id, week_start) {
        clinic_id -> Uuid,
        week_start -> Date,
        sessions -> Int8,
    }
}

diesel::table! {
    questionnaires (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        code -> Text,
        name -> Text,
        items -> Jsonb,
        scoring_method -> Text,
        min_answered -> Int4,
        direction -> Text,
        mcid -> Nullable<Float8>,
        licence -> Nullable<Text>,
        version -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    questionnaire_assignments (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        questionnaire_id -> Uuid,
        start_date -> Date,
        end_date -> Nullable<Date>,
        every -> Int4,
        unit -> Text,
        status -> Text,
        stopped_at -> Nullable<Timestamptz>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    questionnaire_responses (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        assignment_id -> Uuid,
        questionnaire_id -> Uuid,
        answered_at -> Timestamptz,
        local_date -> Date,
        answered_by -> Nullable<Uuid>,
        answered_by_role -> Text,
        answers -> Jsonb,
        score -> Nullable<Float8>,
        answered_items -> Int4,
        content_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    monitoring_episodes (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        start_date -> Date,
        end_date -> Nullable<Date>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    reminder_emissions (assignment_id, date, slot, kind) {
        assignment_id -> Uuid,
        date -> Date,
        slot -> Int2,
        kind -> Text,
        clinic_id -> Uuid,
        emitted_at -> Timestamptz,
    }
}

diesel::table! {
    calendar_feeds (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    monitoring_interactions (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        client_id -> Uuid,
        kind -> Text,
        minutes -> Int4,
        interactive -> Bool,
        occurred_at -> Timestamptz,
        recorded_by -> Nullable<Uuid>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(memberships -> clinics (clinic_id));
diesel::joinable!(invitations -> memberships (membership_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(refresh_tokens -> token_families (family_id));
diesel::joinable!(exercises -> clinics (clinic_id));
diesel::joinable!(routines -> clinics (clinic_id));
diesel::joinable!(routine_items -> routines (routine_id));
diesel::joinable!(routine_items -> exercises (exercise_id));
diesel::joinable!(assignment_items -> exercises (exercise_id));
diesel::joinable!(assignment_items -> assignments (assignment_id));
diesel::joinable!(assignment_pauses -> assignments (assignment_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::joinable!(session_entries -> session_logs (session_id));
diesel::joinable!(session_measurements -> session_logs (session_id));
diesel::joinable!(session_logs -> assignments (assignment_id));
diesel::joinable!(questionnaire_responses -> questionnaires (questionnaire_id));
diesel::joinable!(questionnaire_assignments -> questionnaires (questionnaire_id));

diesel::allow_tables_to_appear_in_same_query!(
    calendar_feeds,
    reminder_emissions,
    session_logs,
    session_entries,
    session_measurements,
    assignments,
    assignment_items,
    assignment_pauses,
    clinics,
    users,
    memberships,
    token_families,
    refresh_tokens,
    login_throttle,
    idempotency_keys,
    event_counters,
    events,
    clients,
    invitations,
    exercises,
    routines,
    routine_items,
    api_keys,
    webhooks,
    webhook_deliveries,
    webhook_attempts,
    audit_events,
    audit_chain,
    audit_checkpoints,
    audit_heads,
    audit_chainer,
    erased_activity_weekly,
    questionnaires,
    questionnaire_assignments,
    questionnaire_responses,
    monitoring_episodes,
    monitoring_interactions,
);
