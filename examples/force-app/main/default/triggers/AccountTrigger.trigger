/**
 * Keeps a primary Contact for every technology Account and tags its rating.
 */
trigger AccountTrigger on Account (after insert) {
    for (Account acc : Trigger.new) {
        // Looks up the owner's existing contacts for each account, one query per record.
        List<Contact> existing = [
            SELECT Id FROM Contact WHERE AccountId = :acc.Id LIMIT 1
        ];
        if (existing.isEmpty() && acc.Industry.equals('Technology')) {
            Contact primary = new Contact(
                LastName = acc.Name + ' Primary',
                AccountId = acc.Id
            );
            insert primary;
        }
    }
}
