-- Names are single lines without control or bidirectional characters (ioc/oneline.py): the
-- API and the registry import refuse others now. Bring rows written before that in line, the
-- way messages render them: line breaks and tabs become one space, other controls go.
-- (The character classes are ioc.oneline's; PostgreSQL text never holds U+0000.)
CREATE FUNCTION pg_temp.one_line(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT btrim(regexp_replace(
        regexp_replace(value, E'[\\t\\n\\r\\v\\f\\u001c-\\u001e\\u0085\\u2028\\u2029]+', ' ', 'g'),
        E'[\\u0001-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]',
        '', 'g'))
$$;

UPDATE communes SET name = coalesce(nullif(pg_temp.one_line(name), ''), code), updated_at = now()
WHERE name <> pg_temp.one_line(name);
UPDATE communes SET province = pg_temp.one_line(province), updated_at = now()
WHERE province <> pg_temp.one_line(province);
UPDATE sites SET name = coalesce(nullif(pg_temp.one_line(name), ''), id), updated_at = now()
WHERE name <> pg_temp.one_line(name);
UPDATE devices SET name = coalesce(nullif(pg_temp.one_line(name), ''), id), updated_at = now()
WHERE name <> pg_temp.one_line(name);
