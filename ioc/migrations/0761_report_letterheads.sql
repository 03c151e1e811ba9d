-- The monthly report is an administrative document (Nghị định 30/2020/NĐ-CP): each commune's
-- issuing body, document symbol, place name, signer and recipients, edited on the console's
-- "Báo cáo tháng" page. No row: defaults from the commune's name and province.
CREATE TABLE report_letterheads (
    commune_code text PRIMARY KEY REFERENCES communes (code) ON DELETE CASCADE,
    parent_body text NOT NULL DEFAULT '',
    issuing_body text NOT NULL,
    symbol text NOT NULL DEFAULT 'BC-UBND',
    place text NOT NULL,
    signer_capacity text NOT NULL DEFAULT 'TM. ỦY BAN NHÂN DÂN',
    signer_title text NOT NULL DEFAULT 'CHỦ TỊCH',
    signer_name text NOT NULL DEFAULT '',
    recipients text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT ''
);
