-- Names arrive in Unicode NFC or NFD (Vietnamese diacritics precomposed or not); the API and
-- the registry import now store NFC only (ioc/bounds.py). Bring rows written before that to NFC,
-- so one name has one spelling in listings, searches, dashboards and reports.
UPDATE communes SET name = normalize(name, NFC), updated_at = now()
WHERE name IS NOT NFC NORMALIZED;
UPDATE communes SET province = normalize(province, NFC), updated_at = now()
WHERE province IS NOT NFC NORMALIZED;
UPDATE sites SET name = normalize(name, NFC), updated_at = now()
WHERE name IS NOT NFC NORMALIZED;
UPDATE devices SET name = normalize(name, NFC), updated_at = now()
WHERE name IS NOT NFC NORMALIZED;
