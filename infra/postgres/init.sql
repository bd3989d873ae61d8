-- One database per service that keeps records (each service owns its schema and migrates it).
CREATE DATABASE catalog;
CREATE DATABASE orders;
CREATE DATABASE notifier;
