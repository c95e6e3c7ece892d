-- Keel's credits engine, version 2: the consumption rules of docs/credits.md, run by PostgreSQL.
--
-- Installed by the migration credits/migrations/0003_credits_engine_v2.py, which pins this
-- file's SHA-256: a released version is never edited. A change of behaviour or signature is
-- a new file (engine_v3.sql, functions named *_v3) with a new migration, so that a release
-- still running keeps the functions it calls (tests/credits/test_engine.py fails otherwise).
--
-- Constants shared with Python (the unlimited member limit, the INTEGER maximum, the
-- ledger's row types, the repayment descriptions) are arguments that
-- credits/services/consumption.py passes from their one Python definition: none is
-- written here.


-- The usable grants of an organization at `p_at`, in consumption order: effective,
-- unexpired, with credits left; priority DESC, soonest expiry first (never-expiring
-- last), then effective_at, created_at, id (docs/credits.md, "Consumption order").
-- The one definition of both: the consumption below and credits.selectors (balance,
-- pages, API; joined back to the rows) read it. Callers keep its order with
-- WITH ORDINALITY ... ORDER BY ordinality. Only what consumption needs: the rest of a
-- grant (its raw Stripe data, say) stays out of the hot path.
CREATE OR REPLACE FUNCTION keel_credits_usable_v2(p_tenant uuid, p_at bigint)
RETURNS TABLE (id uuid, remaining_credits bigint)
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $$
BEGIN
    RETURN QUERY
    SELECT c.id, c.remaining_credits FROM credits c
    WHERE c.tenant_id = p_tenant AND c.remaining_credits > 0 AND c.effective_at <= p_at
      AND (c.expires_at IS NULL OR c.expires_at > p_at)
    ORDER BY c.priority DESC, c.expires_at ASC NULLS LAST, c.effective_at ASC, c.created_at ASC, c.id ASC;
END;
$$;


-- One consumption, all or nothing, in one statement (one round trip, every plan cached).
--
-- Locks, in the order of core/locks.py: the organization's row (the wallet, FOR NO KEY
-- UPDATE), then the member's limit row, the grants and the overdraft row (conditional
-- updates), then new ledger rows and the idempotency key.
--
-- Each statement of a VOLATILE function takes a new snapshot under READ COMMITTED:
-- everything read after the wallet lock sees what the previous holder committed.
--
-- Refusals raise, which undoes everything the statement did:
--   keel:no_such_tenant                (or deleted)
--   keel:not_a_member                  no limit row: every membership has one, so the
--                                      membership ended (never recreated as unlimited)
--   keel:member_credit_limit_exceeded  DETAIL {"credit_limit": N, "used_credits": N}
--   keel:insufficient_credits          DETAIL {"available": N, "room": N, "overdraft_enabled": B}
--   keel:idempotency_key_taken         a committed request owns the key: replay it
--   SQLSTATE 40001 (serialization_failure) when a grant does not hold what was just read
--   (impossible under the wallet lock; the caller retries).
--
-- Returns one row per ledger row written, in ledger order, each with the balance and the
-- overdraft after the consumption.
CREATE OR REPLACE FUNCTION keel_credits_consume_v2(
    p_tenant uuid,
    p_user uuid,
    p_amount integer,
    p_description text,
    p_at bigint,
    p_key varchar,          -- NULL: no idempotency key
    p_fingerprint varchar,
    p_unlimited integer,    -- a member credit limit meaning "no limit"
    p_int_max integer,      -- the INTEGER columns' maximum (used_credits stops there)
    p_type_deduct varchar,
    p_type_overdraft varchar,
    p_type_repay varchar,   -- the grant side of a repayment
    p_type_settled varchar, -- the overdraft side of a repayment
    p_repaid_description text,
    p_settled_description text
) RETURNS TABLE (
    tx_id uuid,
    tx_type varchar,
    tx_credits integer,
    tx_credit uuid,
    tx_description text,
    balance bigint,
    overdraft bigint
)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
    v_enabled boolean;
    v_limit bigint;
    v_member record;
    v_owed_before bigint;
    v_owed bigint;
    v_usable bigint := 0;      -- usable credits before this consumption
    v_repay_left bigint;       -- still to repay from grants
    v_left bigint := p_amount; -- still to draw from grants
    v_repaid bigint := 0;
    v_drawn bigint := 0;
    v_uncovered bigint;
    v_room bigint;
    v_grant record;
    v_take bigint;
    v_n bigint;
    -- per grant touched: id, total taken, repaid part, drawn part
    v_grant_ids uuid[] := '{}';
    v_grant_totals bigint[] := '{}';
    v_grant_repaid bigint[] := '{}';
    v_grant_drawn bigint[] := '{}';
    -- the ledger rows, in order
    v_ids uuid[] := '{}';
    v_types varchar[] := '{}';
    v_credits integer[] := '{}';
    v_credit_ids uuid[] := '{}';
    v_descriptions text[] := '{}';
    i integer;
BEGIN
    -- 1. The wallet lock, and the overdraft settings read under it.
    SELECT t.overdraft_enabled, t.overdraft_limit INTO v_enabled, v_limit
    FROM tenants t WHERE t.id = p_tenant AND t.deleted_at IS NULL FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'keel:no_such_tenant';
    END IF;

    -- 2. The member's limit: one conditional update. used_credits is an INTEGER: an
    -- unlimited member's count stops at its maximum (a limited one never gets there).
    UPDATE tenant_member_credit_limits l
    SET used_credits = CASE WHEN l.used_credits > p_int_max - p_amount THEN p_int_max
                            ELSE l.used_credits + p_amount END,
        updated_at = p_at
    WHERE l.tenant_id = p_tenant AND l.user_id = p_user
      AND (l.credit_limit = p_unlimited OR l.used_credits <= l.credit_limit - p_amount);
    IF NOT FOUND THEN
        SELECT l.credit_limit, l.used_credits INTO v_member
        FROM tenant_member_credit_limits l WHERE l.tenant_id = p_tenant AND l.user_id = p_user;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'keel:not_a_member';
        END IF;
        RAISE EXCEPTION 'keel:member_credit_limit_exceeded'
            USING DETAIL = json_build_object('credit_limit', v_member.credit_limit,
                                             'used_credits', v_member.used_credits)::text;
    END IF;

    -- 3. What is owed.
    SELECT o.credits INTO v_owed_before FROM credit_overdrafts o WHERE o.tenant_id = p_tenant;
    v_owed_before := COALESCE(v_owed_before, 0);
    v_repay_left := v_owed_before;

    -- 4. The usable grants in consumption order: first repay what is owed (credits that
    -- became usable while something was owed), then draw the amount.
    FOR v_grant IN
        SELECT g.id, g.remaining_credits
        FROM keel_credits_usable_v2(p_tenant, p_at) WITH ORDINALITY AS g
        ORDER BY g.ordinality
    LOOP
        v_usable := v_usable + v_grant.remaining_credits;
        IF v_repay_left = 0 AND v_left = 0 THEN
            CONTINUE;  -- read on: the balance counts every usable grant
        END IF;
        v_take := LEAST(v_grant.remaining_credits, v_repay_left);
        v_n := LEAST(v_grant.remaining_credits - v_take, v_left);
        IF v_take + v_n > 0 THEN
            v_repay_left := v_repay_left - v_take;
            v_left := v_left - v_n;
            v_repaid := v_repaid + v_take;
            v_drawn := v_drawn + v_n;
            v_grant_ids := v_grant_ids || v_grant.id;
            v_grant_totals := v_grant_totals || (v_take + v_n);
            v_grant_repaid := v_grant_repaid || v_take;
            v_grant_drawn := v_grant_drawn || v_n;
        END IF;
    END LOOP;

    v_owed := v_owed_before - v_repaid;
    v_uncovered := v_left;
    IF v_uncovered > 0 THEN
        v_room := CASE WHEN v_enabled THEN v_limit - v_owed ELSE 0 END;
        IF v_uncovered > v_room THEN
            RAISE EXCEPTION 'keel:insufficient_credits'
                USING DETAIL = json_build_object('available', GREATEST(v_usable - v_owed_before, 0),
                                                 'room', GREATEST(v_room, 0),
                                                 'overdraft_enabled', v_enabled)::text;
        END IF;
    END IF;

    -- 5. The grants, each in one conditional update.
    FOR i IN 1 .. COALESCE(array_length(v_grant_ids, 1), 0) LOOP
        UPDATE credits c SET remaining_credits = c.remaining_credits - v_grant_totals[i]
        WHERE c.id = v_grant_ids[i] AND c.remaining_credits >= v_grant_totals[i];
        IF NOT FOUND THEN
            RAISE EXCEPTION 'keel:grant_changed' USING ERRCODE = 'serialization_failure';
        END IF;
    END LOOP;

    -- 6. The ledger: repayments (the grant side per grant, then the overdraft side),
    -- the deductions per grant, then the uncovered part on overdraft.
    IF v_repaid > 0 THEN
        FOR i IN 1 .. array_length(v_grant_ids, 1) LOOP
            IF v_grant_repaid[i] > 0 THEN
                v_ids := v_ids || gen_random_uuid();
                v_types := v_types || p_type_repay;
                v_credits := v_credits || (-v_grant_repaid[i])::integer;
                v_credit_ids := v_credit_ids || v_grant_ids[i];
                v_descriptions := v_descriptions || p_repaid_description;
            END IF;
        END LOOP;
        v_ids := v_ids || gen_random_uuid();
        v_types := v_types || p_type_settled;
        v_credits := v_credits || v_repaid::integer;
        v_credit_ids := v_credit_ids || NULL::uuid;
        v_descriptions := v_descriptions || p_settled_description;
    END IF;
    FOR i IN 1 .. COALESCE(array_length(v_grant_ids, 1), 0) LOOP
        IF v_grant_drawn[i] > 0 THEN
            v_ids := v_ids || gen_random_uuid();
            v_types := v_types || p_type_deduct;
            v_credits := v_credits || (-v_grant_drawn[i])::integer;
            v_credit_ids := v_credit_ids || v_grant_ids[i];
            v_descriptions := v_descriptions || p_description;
        END IF;
    END LOOP;
    IF v_uncovered > 0 THEN
        v_ids := v_ids || gen_random_uuid();
        v_types := v_types || p_type_overdraft;
        v_credits := v_credits || (-v_uncovered)::integer;
        v_credit_ids := v_credit_ids || NULL::uuid;
        v_descriptions := v_descriptions || p_description;
    END IF;
    INSERT INTO credit_transactions (id, created_at, user_id, tenant_id, credit_id, credits, type, description)
    SELECT r.id, p_at, p_user, p_tenant, r.credit_id, r.credits, r.type, r.description
    FROM unnest(v_ids, v_credit_ids, v_credits, v_types, v_descriptions) AS r(id, credit_id, credits, type, description);

    -- 7. The overdraft row; who last ran it up is kept by repayments.
    v_owed := v_owed + v_uncovered;
    IF v_owed <> v_owed_before THEN
        UPDATE credit_overdrafts o
        SET credits = v_owed, updated_at = p_at,
            user_id = CASE WHEN v_owed > v_owed_before THEN p_user ELSE o.user_id END
        WHERE o.tenant_id = p_tenant;
        IF NOT FOUND THEN
            INSERT INTO credit_overdrafts (id, tenant_id, user_id, credits, created_at, updated_at)
            VALUES (gen_random_uuid(), p_tenant, p_user, v_owed, p_at, p_at);
        END IF;
    END IF;

    -- 8. The idempotency key with the result, last, still under the wallet lock.
    IF p_key IS NOT NULL THEN
        INSERT INTO credit_idempotency_keys (id, tenant_id, user_id, key, fingerprint, result, created_at)
        VALUES (
            gen_random_uuid(), p_tenant, p_user, p_key, p_fingerprint,
            jsonb_build_object(
                'consumed', p_amount,
                'balance', v_usable - v_repaid - v_drawn - v_owed,
                'overdraft', v_owed,
                'transaction_ids', to_jsonb(v_ids::text[])
            ),
            p_at
        )
        ON CONFLICT (tenant_id, key) DO NOTHING;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'keel:idempotency_key_taken';
        END IF;
    END IF;

    RETURN QUERY
    SELECT r.id, r.type, r.credits, r.credit_id, r.description, v_usable - v_repaid - v_drawn - v_owed, v_owed
    FROM unnest(v_ids, v_types, v_credits, v_credit_ids, v_descriptions)
         WITH ORDINALITY AS r(id, type, credits, credit_id, description, n)
    ORDER BY r.n;
END;
$$;
