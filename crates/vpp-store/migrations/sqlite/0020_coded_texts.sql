-- Texts vpp writes itself, as a code with figures (JSON), so they are
-- written in the reader's language when read; the text columns keep the
-- English. Why a resource's status changed:
ALTER TABLE resource_status_history ADD COLUMN reason_data TEXT;
-- What an ingestion run did:
ALTER TABLE ingestion_runs ADD COLUMN message_data TEXT;
