#!/bin/sh
# The health check's probe (same path as in apache/kafka): asks the broker for its API versions.
exec java -Xmx64m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -cp '/opt/kafka/libs/*' \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
