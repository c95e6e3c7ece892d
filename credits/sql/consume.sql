-- keel_credits_consume_v1: one consumption, in one statement, on PostgreSQL.
--
-- The same steps, in the same order and with the same locks, as the Python
-- engine in credits/services/consumption.py (`_consume`), which is the
-- reference and what SQLite runs; tests run both on PostgreSQL and compare
-- their ledgers row for row. It exists for speed: the whole consumption is
-- one round trip instead of eight, with every plan cached (docs/performance.md).
--
-- Installed (CREATE OR REPLACE) after every `migrate` by credits.apps; the
-- version suffix changes whenever the signature or the behaviour does, so a
-- running older release keeps the function it knows.
--
-- Each statement of a VOLATILE function takes a new snapshot under READ
-- COMMITTED: everything read after the wallet lock sees what the previous
-- holder of the lock committed.
--
-- Refusals and conflicts raise, which undoes everything the statement did:
--   keel:member_credit_limit_exceeded  DETAIL {"credit_limit": N, "used_credits": N}
--   keel:insufficient_credits          DETAIL {"available": N, "room": N, "overdraft_enabled": B}
--   keel:idempotency_key_taken         a committed request owns the key: replay it
--   keel:no_such_tenant
--   SQLSTATE 40001 (serialization_failure) when a grant does not hold what was
--   just read (impossible under the wallet lock; the caller retries).
CREATE OR REPLACE FUNCTION keel_credits_consume_v1(
    p_tenant uuid,
    p_user uuid,
    p_amount integer,
    p_description text,
    p_at bigint,
    p_key varchar,          -- NULL: no idempotency key
    p_fingerprint varchar
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
    -- the ledger rows, in the Python engine's order
    v_ids uuid[] := '{}';
    v_types varchar[] := '{}';
    v_credits integer[] := '{}';
    v_credit_ids uuid[] := '{}';
    v_descriptions text[] := '{}';
    i integer;
BEGIN
    -- 1. The wallet lock, and the overdraft settings read under it.
    SELECT t.overdraft_enabled, t.overdraft_limit INTO v_enabled, v_limit
    FROM tenants t WHERE t.id = p_tenant FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'keel:no_such_tenant';
    END IF;

    -- 2. The member's limit: one conditional update (-1 is unlimited).
    -- used_credits is an INTEGER: an unlimited member's count stops at its maximum.
    UPDATE tenant_member_credit_limits l
    SET used_credits = CASE WHEN l.used_credits > 2147483647 - p_amount THEN 2147483647
                            ELSE l.used_credits + p_amount END,
        updated_at = p_at
    WHERE l.tenant_id = p_tenant AND l.user_id = p_user
      AND (l.credit_limit = -1 OR l.used_credits <= l.credit_limit - p_amount);
    IF NOT FOUND THEN
        SELECT l.credit_limit, l.used_credits INTO v_member
        FROM tenant_member_credit_limits l WHERE l.tenant_id = p_tenant AND l.user_id = p_user;
        IF FOUND THEN
            RAISE EXCEPTION 'keel:member_credit_limit_exceeded'
                USING DETAIL = json_build_object('credit_limit', v_member.credit_limit,
                                                 'used_credits', v_member.used_credits)::text;
        END IF;
        -- A membership without its row is unlimited; the row is created so that
        -- used_credits keeps counting (a concurrent creation fails the unique
        -- constraint, and the caller retries).
        INSERT INTO tenant_member_credit_limits (id, tenant_id, user_id, credit_limit, used_credits, created_at, updated_at)
        VALUES (gen_random_uuid(), p_tenant, p_user, -1, p_amount, p_at, p_at);
    END IF;

    -- 3. What is owed.
    SELECT o.credits INTO v_owed_before FROM credit_overdrafts o WHERE o.tenant_id = p_tenant;
    v_owed_before := COALESCE(v_owed_before, 0);
    v_repay_left := v_owed_before;

    -- 4. The usable grants in consumption order (credits_consumption_idx): first
    -- repay what is owed, then draw the amount; one pass gives what the Python
    -- engine's two passes in the same order give.
    FOR v_grant IN
        SELECT c.id, c.remaining_credits FROM credits c
        WHERE c.tenant_id = p_tenant AND c.remaining_credits > 0 AND c.effective_at <= p_at
          AND (c.expires_at IS NULL OR c.expires_at > p_at)
        ORDER BY c.priority DESC, c.expires_at ASC NULLS LAST, c.effective_at ASC, c.created_at ASC, c.id ASC
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

    -- 6. The ledger: repayments (deduct:repay per grant, then add:repay), the
    -- deductions per grant, then the uncovered part on overdraft.
    IF v_repaid > 0 THEN
        FOR i IN 1 .. array_length(v_grant_ids, 1) LOOP
            IF v_grant_repaid[i] > 0 THEN
                v_ids := v_ids || gen_random_uuid();
                v_types := v_types || 'deduct:repay'::varchar;
                v_credits := v_credits || (-v_grant_repaid[i])::integer;
                v_credit_ids := v_credit_ids || v_grant_ids[i];
                v_descriptions := v_descriptions || 'Overdraft repaid'::text;
            END IF;
        END LOOP;
        v_ids := v_ids || gen_random_uuid();
        v_types := v_types || 'add:repay'::varchar;
        v_credits := v_credits || v_repaid::integer;
        v_credit_ids := v_credit_ids || NULL::uuid;
        v_descriptions := v_descriptions || 'Overdraft settled'::text;
    END IF;
    FOR i IN 1 .. COALESCE(array_length(v_grant_ids, 1), 0) LOOP
        IF v_grant_drawn[i] > 0 THEN
            v_ids := v_ids || gen_random_uuid();
            v_types := v_types || 'deduct'::varchar;
            v_credits := v_credits || (-v_grant_drawn[i])::integer;
            v_credit_ids := v_credit_ids || v_grant_ids[i];
            v_descriptions := v_descriptions || p_description;
        END IF;
    END LOOP;
    IF v_uncovered > 0 THEN
        v_ids := v_ids || gen_random_uuid();
        v_types := v_types || 'deduct:overdraft'::varchar;
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
