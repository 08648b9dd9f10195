"""The logical IDs the tests name, in one place.

Those of stateful resources are part of the contract with every deployed stack: CloudFormation deletes a resource
whose logical ID disappears and creates an empty one under the new ID. tests/unit/test_safety.py pins them.
"""

from __future__ import annotations

DB = "DatabaseStackRetailDatabase2766202D"
DATABASE_KEY = "DatabaseStackDatabaseEncryptionKeyF4AE9194"
DATABASE_KEY_ALIAS = "DatabaseStackDatabaseEncryptionKeyAlias56E765E6"
SECRET = "DatabaseStackDatabaseCredentials957DC173"
SUBNET_GROUP = "DatabaseStackDatabaseSubnetGroupF687ACC5"
BACKUP_BUCKET = "BackupStackDatabaseBackupBucketEA463785"
ACCESS_LOGS_BUCKET = "BackupStackAccessLogsBucketF963089F"
REPLICA_BUCKET = "BackupStackBackupReplicaBucket9CA9F542"
BACKUP_KEY = "BackupStackBackupEncryptionKeyFDB50525"
VAULT = "BackupStackBackupVaultD7A0FDAE"
VPC = "NetworkStackRetailVPCD095F414"
SUBNET_1 = "NetworkStackRetailVPCdatabaseSubnet1Subnet07C73300"
SUBNET_2 = "NetworkStackRetailVPCdatabaseSubnet2SubnetB6D05743"
SECURITY_GROUP = "NetworkStackDatabaseSecurityGroupEFDDC955"
FLOW_LOG_KEY = "NetworkStackFlowLogKey7D46EB3E"
FLOW_LOG_GROUP = "NetworkStackFlowLogGroupF9F027C3"
ALERTS_KEY = "MonitoringStackAlertsKeyEB8A747C"
TOPIC = "MonitoringStackDatabaseAlerts7192419E"
REPORTING_SECRET = "AccessReportingCredentials26FB6D42"
CLIENT_SECURITY_GROUP = "AccessClientSecurityGroupA35944FF"
PROVISIONER_SECURITY_GROUP = "AccessProvisionerSecurityGroup8C07BD7E"
DATABASE_ROLES = "AccessDatabaseRoles24C0EC1E"
PROVISIONER_FUNCTION = "AccessProvisionerFunctionCA770F4E"
PROVISIONER_ROLE = "AccessProvisionerRoleE1DF3683"
SECRETS_MANAGER_ENDPOINT = "AccessSecretsManagerEndpointB9365A11"
CPU_ALARM = "MonitoringStackHighCPUAlarm5FB87AFB"
