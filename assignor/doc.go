// Package assignor decides which process and worker runs each task, and
// carries that decision through a Kafka consumer group.
//
// Two layers:
//
//   - Assign is a pure function with no Kafka in it. Given the processes of
//     an application (workers, rack and tags, what they ran before and how
//     much of each task's state they hold on disk) and the tasks, it returns
//     active, standby and warmup tasks per process and per worker. It follows
//     Kafka Streams' HighAvailabilityTaskAssignor: sticky, balanced by
//     worker count, standbys spread over racks / client tags, and lag-aware:
//     a stateful task only moves to a process that is caught up
//     (Config.AcceptableRecoveryLag); otherwise it stays where its state is
//     while the new owner warms up, and a probing rebalance finishes the move.
//
//   - Balancer is a kgo.GroupBalancer (protocol "sluice", classic group
//     protocol; eager, or cooperative with BalancerConfig.Cooperative) that
//     runs Assign on the group leader. Members send a
//     SubscriptionInfo in their JoinGroup userdata and receive an
//     AssignmentInfo in their SyncGroup userdata, next to the partitions of
//     their active tasks. Both are versioned so that members of different
//     versions can share a group (see EncodeSubscription).
//
// Usage, on every worker's client:
//
//	b := assignor.NewBalancer(assignor.BalancerConfig{
//		ProcessID:    processID,
//		Endpoint:     "10.0.0.7:8080",
//		Subscription: func() assignor.SubscriptionInfo { return runtime.Subscription() },
//		Topology:     topology.Layout,
//		Assignor:     assignor.Config{NumStandbyReplicas: 1},
//		OnAssignment: runtime.SetAssignment,
//	})
//	cl, err := kgo.NewClient(kgo.ConsumerGroup(appID), kgo.ConsumeTopics(sources...), kgo.Balancers(b))
//
// Data types (Input, Assignment, SubscriptionInfo, AssignmentInfo, ...) are
// plain values: safe to read concurrently, not to modify concurrently.
// Assign and the codecs may be called concurrently. Balancer is safe for
// concurrent use but belongs to one client.
package assignor
