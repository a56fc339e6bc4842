{
  description = "Says hello";
  outputs = { self }: { text = "hello from greeting 2.0.0"; };
}
