//! Integration tests: a real datapunk server in-process on 127.0.0.1:0, driven by real
//! clients (tokio-postgres, the psql binary). One binary, one link step.

mod harness;

mod ab_test;
mod audiences;
mod auth;
mod azure_lake;
mod bi_tools;
mod binary;
mod cancel;
mod clients;
mod cluster;
mod clv;
mod clv_tables;
mod copy;
mod delta_lake;
mod differential;
mod durability;
mod errors;
mod examples;
mod exports;
mod iceberg_lake;
mod identity;
mod jdbc;
mod lake;
mod lake_types;
mod lookups;
mod marketing;
mod node;
mod pgbench;
mod privacy;
mod protocol;
mod psql;
mod python;
mod query_queue;
mod recommend;
mod result_cache;
mod robustness;
mod s3_lake;
mod tls;
mod tools;
mod twin;
mod warehouse;
